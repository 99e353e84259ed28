"""Real signal on a small labeled real-image set that ships with scikit-learn:
does a short MAE pretraining give better linear-probe features than a randomly
initialized encoder?

    python tools/analysis_tools/digits_signal.py [--epochs 200] [--out data/digits] [--save PATH]

1. scikit-learn's handwritten digits (1,797 8x8 grey images, 10 classes) are
   upsampled to 32 px RGB and written as an ImageNet-style folder
   (``OUT/{train,val}/<class>/<n>.png``, a fixed stratified 2:1 split);
2. a tiny ViT (patch 4, 64 tokens) is MAE-pretrained on the train images without
   labels (75% random masking, norm-pix MSE), on the CPU;
3. the same linear probe is fitted on the frozen features of the pretrained encoder
   and of the same encoder at its random initialization: features standardized
   (BatchNorm without affine, as the MAE probe), multinomial logistic regression on
   train (all 1,198 labels, and 10 labels per class averaged over 5 draws), top-1
   accuracy on val. Both encoders' numbers are printed, with raw pixels as a
   reference.
"""
import argparse
import time
from pathlib import Path
from typing import Dict, Tuple

import numpy as np
import torch

IMAGE = 32
ENCODER = dict(embed_dims=64, num_layers=4, num_heads=4, feedforward_channels=128)


def write_digits_folder(out: str, size: int = IMAGE, seed: int = 0) -> Dict[str, int]:
    """Write the digits as ``out/{train,val}/<digit>/<index>.png``; returns counts.
    Existing files are kept (the split is deterministic)."""
    from PIL import Image
    from sklearn.datasets import load_digits
    digits = load_digits()
    order = np.random.default_rng(seed).permutation(len(digits.target))
    counts = {'train': 0, 'val': 0}
    for rank, index in enumerate(order):
        split = 'val' if rank % 3 == 2 else 'train'
        path = Path(out) / split / str(digits.target[index]) / f'{index:04d}.png'
        counts[split] += 1
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        grey = (digits.images[index] * (255. / 16.)).astype(np.uint8)
        Image.fromarray(grey).resize((size, size), Image.BICUBIC).convert('RGB').save(path)
    return counts


def load_split(root: str, split: str) -> Tuple[torch.Tensor, torch.Tensor]:
    """Images ``[N, 3, S, S]`` standardized to about zero mean, unit variance; labels."""
    from PIL import Image
    paths = sorted(Path(root, split).glob('*/*.png'))
    images = np.stack([np.asarray(Image.open(p).convert('RGB')) for p in paths])
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float()
    labels = torch.tensor([int(p.parent.name) for p in paths])
    return (x - 127.5) / 127.5, labels


def build_mae(seed: int) -> torch.nn.Module:
    from mmengine.registry import init_default_scope

    import mmmim.models  # noqa: F401
    from mmmim.registry import MODELS
    init_default_scope('mmmim')
    torch.manual_seed(seed)
    model = MODELS.build(dict(
        type='MaskedImageModel',
        masker=dict(type='RandomMasker', ratio=0.75, unit_size=4),
        encoder=dict(type='MaskedViT', arch=ENCODER, img_size=IMAGE, patch_size=4),
        decoder=dict(type='MAEDecoder', dims=64, depth=2, num_heads=4),
        target=dict(type='PixelTarget', patch_size=4, normalize=True)))
    model.init_weights()
    return model


def pretrain(model: torch.nn.Module, images: torch.Tensor, epochs: int, batch: int = 128,
             lr: float = 1.5e-3) -> float:
    """MAE pretraining with AdamW (0.9, 0.95), wd 0.05, warm-up + cosine, random
    crops (scale 0.5-1) and flips. Returns the last epoch's mean loss."""
    import torch.nn.functional as F
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95),
                                  weight_decay=0.05)
    steps = epochs * ((len(images) + batch - 1) // batch)
    warm = max(1, steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(
        (s + 1) / warm, 0.5 * (1 + np.cos(np.pi * min(1., (s - warm) / max(1, steps - warm))))))
    model.train()
    for _ in range(epochs):
        losses = []
        for idx in torch.randperm(len(images)).split(batch):
            x = images[idx]
            scale = float(np.random.uniform(0.5, 1.0))
            side = max(8, int(round(IMAGE * scale ** 0.5)))
            top, left = np.random.randint(0, IMAGE - side + 1, size=2)
            x = F.interpolate(x[..., top:top + side, left:left + side], size=(IMAGE, IMAGE),
                              mode='bicubic', align_corners=False)
            x = torch.where(torch.rand(len(x), 1, 1, 1) < 0.5, x.flip(-1), x)
            loss = model(x, mode='loss')['loss']
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
    return float(np.mean(losses))


@torch.no_grad()
def features(encoder: torch.nn.Module, images: torch.Tensor, pool: str) -> np.ndarray:
    """Frozen features: 'cls' (class token after the final norm) or 'mean' (mean of
    the patch tokens after the final norm)."""
    encoder.eval()
    tokens = torch.cat([encoder(x)[0] for x in images.split(256)])   # [N, 1 + L, C]
    return (tokens[:, 0] if pool == 'cls' else tokens[:, 1:].mean(1)).numpy()


def linear_probe(train: np.ndarray, y_train, val: np.ndarray, y_val) -> float:
    """Standardize (BatchNorm without affine) + multinomial logistic regression."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0))
    probe.fit(train, y_train.numpy())
    return float((probe.predict(val) == y_val.numpy()).mean())


def few_label_probe(train: np.ndarray, y_train, val: np.ndarray, y_val, per_class: int,
                    draws: int = 5) -> float:
    """Mean top-1 of the probe fitted on ``per_class`` labeled images per class
    (``draws`` fixed random subsets)."""
    scores = []
    for draw in range(draws):
        rng = np.random.default_rng(draw)
        labels = y_train.numpy()
        pick = np.concatenate([rng.choice(np.flatnonzero(labels == c), per_class, replace=False)
                               for c in range(10)])
        scores.append(linear_probe(train[pick], y_train[pick], val, y_val))
    return float(np.mean(scores))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', default='data/digits', help='digits image folder')
    parser.add_argument('--epochs', type=int, default=200, help='MAE pretraining epochs')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--save', help='save the pretrained model ({"state_dict"}) here')
    parser.add_argument('--load', help='skip pretraining: a model saved by --save')
    parser.add_argument('--per-class', type=int, default=10,
                        help='labels per class of the few-label probe')
    args = parser.parse_args()
    counts = write_digits_folder(args.out)
    (x_train, y_train), (x_val, y_val) = load_split(args.out, 'train'), load_split(args.out, 'val')
    print(f'digits: {counts["train"]} train / {counts["val"]} val images, {IMAGE} px')
    model = build_mae(args.seed)
    random_state = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    if args.load:
        model.load_state_dict(torch.load(args.load, weights_only=True)['state_dict'])
        print(f'MAE pretrained model loaded from {args.load}')
    else:
        start = time.time()
        loss = pretrain(model, x_train, args.epochs)
        print(f'MAE pretraining: {args.epochs} epochs in {time.time() - start:.0f} s, '
              f'final loss {loss:.4f}')
    if args.save:
        torch.save({'state_dict': model.state_dict()}, args.save)
    pretrained = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    pixels = (x_train.flatten(1).numpy(), x_val.flatten(1).numpy())
    full = linear_probe(pixels[0], y_train, pixels[1], y_val)
    few = few_label_probe(pixels[0], y_train, pixels[1], y_val, args.per_class)
    print(f'reference, raw pixels: all labels {full:.4f}, {args.per_class}/class {few:.4f}')
    for pool in ('cls', 'mean'):
        for name, state in (('random init', random_state), ('MAE pretrained', pretrained)):
            model.encoder.load_state_dict(state)
            train = features(model.encoder, x_train, pool)
            val = features(model.encoder, x_val, pool)
            full = linear_probe(train, y_train, val, y_val)
            few = few_label_probe(train, y_train, val, y_val, args.per_class)
            print(f'linear probe top-1 on val, {pool} features, {name:14s}: '
                  f'all labels {full:.4f}, {args.per_class}/class {few:.4f}')


if __name__ == '__main__':
    main()
