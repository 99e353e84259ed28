"""Each method's claim at small scale on real images: scikit-learn's digits.

    # MAE / PixMIM / LocalMIM on one tiny ViT, UM-MAE / SimMIM on one tiny Swin,
    # each pretrained for the same CPU time, two seeds, probed along the way:
    python tools/experiments/digits_signal.py --methods mae pixmim localmim ummae simmim \\
        --seeds 0 1 --cpu-budget 240 --evals 6 --json results.json
    python tools/experiments/digits_signal.py --report results.json [more.json ...]

1. scikit-learn's handwritten digits (1,797 8x8 grey images, 10 classes) are
   upsampled to 32 px RGB and written as an ImageNet-style folder
   (``OUT/{train,val}/<class>/<n>.png``, a fixed stratified 2:1 split);
2. each method pretrains its encoder on the 1,198 train images without labels, on
   the CPU, with the same optimizer (AdamW (0.9, 0.95), wd 0.05, lr 1.5e-3, batch
   128, 10% warm-up then cosine) and the same augmentation (random crops of scale
   0.5-1 + flips; PixMIM: its conservative crop, a 1-px reflect-padded random crop
   + flip). The methods are mmmim's own components, shrunk (:data:`METHODS`):

   * ``mae``: 64-d 4-block ViT (patch 4), 75% random masking of 4-px units, 64-d
     2-block decoder, per-unit normalized pixels;
   * ``pixmim``: MAE with PixMIM's low-pass target (radius 40 at 224, magnitude)
     and conservative crop;
   * ``localmim``: the same ViT, a 32-d 1-block decoder after each block
     (LocalMIM's x4 / x2 / x1 / x0.5 heads) on HOG cells of 1 / 2 / 4 / 8 px;
   * ``ummae``: 3-stage Swin (32/64/128-d, 2 blocks each, patch 2, window 4) on
     UM-MAE's compact grid (one visible 4-px unit per 2x2 window, 25% of them
     secondary-masked), UM-MAE's decoder (64-d, 2 blocks), UM-MAE's init;
   * ``simmim``: the same Swin with mask tokens on the full grid (60% of the 8-px
     units), SimMIM's linear decoder and L1 on raw pixels, the same init;

3. the pretraining clock is the process's CPU time (``time.process_time``, all
   threads), not the wall clock: on a shared machine the wall clock measures the
   other jobs. ``--cpu-budget`` seconds are turned into a step count per method
   from the CPU cost of a few calibration steps (on a throw-away copy), so every
   method gets the same compute; the wall time is recorded too;
4. at ``--evals`` evenly spaced points (and at step 0, the random initialization)
   the frozen encoder's features (mean of the final tokens; the pyramid's last
   stage) are probed: standardized (BatchNorm without affine, as the MAE probe),
   multinomial logistic regression on train (all 1,198 labels, and
   ``--per-class`` labels per class averaged over 5 draws), top-1 on the 599 val
   images. Probing is not counted in the pretraining clock.

``--save`` (one method, one seed) writes the pretrained model ``{"state_dict"}``
for ``configs/benchmarks/classification/digits/`` (MAE's encoder).
"""
import argparse
import copy
import json
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

IMAGE = 32
ENCODER = dict(embed_dims=64, num_layers=4, num_heads=4, feedforward_channels=128)
PYRAMID = dict(embed_dims=32, depths=[2, 2, 2], num_heads=[2, 4, 8])
# the tool standardizes images as (x - 127.5) / 127.5; the models see the same
# statistics so that the low-pass filter undoes the right normalization
PREPROCESSOR = dict(mean=[127.5] * 3, std=[127.5] * 3)


def vit_encoder(**kwargs) -> dict:
    return dict(type='MaskedViT', arch=ENCODER, img_size=IMAGE, patch_size=4, **kwargs)


def pyramid_encoder(masking: str, **kwargs) -> dict:
    return dict(type='MaskedSwin', arch=PYRAMID, img_size=IMAGE, patch_size=2, window_size=4,
                out_indices=(2,), masking=masking, weight_init='ummae', **kwargs)


MAE = dict(
    type='MaskedImageModel', data_preprocessor=PREPROCESSOR,
    masker=dict(type='RandomMasker', ratio=0.75, unit_size=4), encoder=vit_encoder(),
    decoder=dict(type='MAEDecoder', dims=64, depth=2, num_heads=4),
    target=dict(type='PixelTarget', patch_size=4, normalize=True))
LOWPASS = dict(type='LowPassFilter', radius=40, reference_size=224, output='magnitude')
LOCALMIM_LEVELS = [  # tap after each of the 4 blocks; scales relative to the 8x8 patches
    dict(tap=tap, decoder=dict(type='LocalMIMDecoder', dims=32, num_heads=4, scale=scale))
    for tap, scale in (('block0', 4), ('block1', 2), ('block2', 1), ('out', 0.5))]

METHODS: Dict[str, dict] = {
    'mae': MAE,
    'pixmim': {**MAE, 'target': dict(type='PixelTarget', patch_size=4, filters=[LOWPASS])},
    'localmim': dict(
        type='MultiLevelMaskedImageModel', data_preprocessor=PREPROCESSOR,
        masker=MAE['masker'], encoder=vit_encoder(), levels=LOCALMIM_LEVELS,
        target=dict(type='HOGTarget', nbins=9, cell_sizes=(1, 2, 4, 8))),
    'ummae': dict(
        type='MaskedImageModel', data_preprocessor=PREPROCESSOR,
        masker=dict(type='UniformMasker', unit_size=4, secondary_ratio=0.25),
        encoder=pyramid_encoder('compact', secondary_token=True),
        decoder=dict(type='UMMAEDecoder', dims=64, depth=2, num_heads=4),
        target=dict(type='PixelTarget', patch_size=4, normalize=True)),
    'simmim': dict(
        type='MaskedImageModel', data_preprocessor=PREPROCESSOR,
        masker=dict(type='BlockMasker', ratio=0.6, unit_size=8),
        encoder=pyramid_encoder('mask_token'), decoder=dict(type='SimMIMDecoder'),
        target=dict(type='PixelTarget', patch_size=8, normalize=False),
        loss=dict(type='MaskedReconstructionLoss', criterion='l1')),
}
CONSERVATIVE = {'pixmim'}   # methods trained with PixMIM's conservative crop


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
    if not paths:
        raise FileNotFoundError(f'no images under {Path(root, split)}/<class>/*.png')
    images = np.stack([np.asarray(Image.open(p).convert('RGB')) for p in paths])
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float()
    labels = torch.tensor([int(p.parent.name) for p in paths])
    return (x - 127.5) / 127.5, labels


def build_model(method: str, seed: int) -> torch.nn.Module:
    """The method's model (:data:`METHODS`), initialized from ``seed``."""
    from mmengine.logging import MMLogger
    from mmengine.registry import init_default_scope

    import mmmim.models  # noqa: F401
    from mmmim.registry import MODELS
    MMLogger.get_current_instance().setLevel('WARNING')  # not the per-parameter init log
    if method not in METHODS:
        raise KeyError(f'unknown method {method!r}; choose from {sorted(METHODS)}')
    init_default_scope('mmmim')
    torch.manual_seed(seed)
    model = MODELS.build(copy.deepcopy(METHODS[method]))
    model.init_weights()
    return model


def augment(x: torch.Tensor, conservative: bool) -> torch.Tensor:
    """A batch ``[B, 3, S, S]`` -> a random crop of it (one crop per batch) resized
    back, scale 0.5-1, or PixMIM's conservative crop (1-px reflect padding, random
    crop, no rescaling); then a random horizontal flip per image."""
    if conservative:
        padded = F.pad(x, (1, 1, 1, 1), mode='reflect')
        top, left = np.random.randint(0, 3, size=2)
        x = padded[..., top:top + IMAGE, left:left + IMAGE]
    else:
        scale = float(np.random.uniform(0.5, 1.0))
        side = max(8, int(round(IMAGE * scale ** 0.5)))
        top, left = np.random.randint(0, IMAGE - side + 1, size=2)
        x = F.interpolate(x[..., top:top + side, left:left + side], size=(IMAGE, IMAGE),
                          mode='bicubic', align_corners=False)
    return torch.where(torch.rand(len(x), 1, 1, 1) < 0.5, x.flip(-1), x)


def total_loss(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Sum of the model's ``loss*`` terms (LocalMIM logs one per level)."""
    losses = model(x, mode='loss')
    return sum(v for k, v in losses.items() if k.startswith('loss'))


class Pretraining:
    """AdamW (0.9, 0.95), wd 0.05, 10% linear warm-up then cosine over ``steps``,
    batches of ``batch`` drawn epoch-wise from ``images``; CPU and wall time
    accumulated over the training steps only."""

    def __init__(self, model: torch.nn.Module, images: torch.Tensor, steps: int,
                 conservative: bool, batch: int = 128, lr: float = 1.5e-3) -> None:
        self.model, self.images, self.steps = model, images, steps
        self.conservative, self.batch = conservative, batch
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95),
                                           weight_decay=0.05)
        warm = max(1, steps // 10)
        self.schedule = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda s: min(
            (s + 1) / warm,
            0.5 * (1 + np.cos(np.pi * min(1., (s - warm) / max(1, steps - warm))))))
        self.done, self.cpu, self.wall, self.losses = 0, 0., 0., []
        self._order: List[torch.Tensor] = []

    def next_batch(self) -> torch.Tensor:
        if not self._order:
            self._order = list(torch.randperm(len(self.images)).split(self.batch))
        return self.images[self._order.pop(0)]

    def step(self) -> float:
        cpu, wall = time.process_time(), time.perf_counter()
        self.model.train()
        loss = total_loss(self.model, augment(self.next_batch(), self.conservative))
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.schedule.step()
        self.cpu += time.process_time() - cpu
        self.wall += time.perf_counter() - wall
        self.done += 1
        self.losses.append(loss.item())
        return self.losses[-1]

    def run_to(self, step: int) -> None:
        while self.done < min(step, self.steps):
            self.step()


def cpu_seconds_per_step(method: str, model: torch.nn.Module, images: torch.Tensor,
                         calibration_steps: int = 3) -> float:
    """Median CPU time of a training step, measured on a copy of the model after one
    warm-up step (the model itself and the global RNG are left untouched)."""
    rng = torch.get_rng_state(), np.random.get_state()
    trial = Pretraining(copy.deepcopy(model), images, steps=100,
                        conservative=method in CONSERVATIVE)
    trial.step()
    costs = []
    for _ in range(calibration_steps):
        before = trial.cpu
        trial.step()
        costs.append(trial.cpu - before)
    torch.set_rng_state(rng[0])
    np.random.set_state(rng[1])
    return float(np.median(costs))


@torch.no_grad()
def features(encoder: torch.nn.Module, images: torch.Tensor, pool: str = 'mean'
             ) -> np.ndarray:
    """Frozen features ``[N, C]`` of the plain (mask-free) encoder: ViT tokens
    ``[B, 1 + L, C]`` after the final norm -> 'cls' (class token) or 'mean' (mean of
    the patch tokens); a pyramid's last stage map ``[B, C, h, w]`` (after its norm)
    -> its spatial mean."""
    encoder.eval()
    outs = []
    for x in images.split(256):
        out = encoder(x)[-1]
        if out.dim() == 4:
            outs.append(out.mean((2, 3)))
        else:
            outs.append(out[:, 0] if pool == 'cls' else out[:, 1:].mean(1))
    return torch.cat(outs).numpy()


def linear_probe(train: np.ndarray, y_train, val: np.ndarray, y_val) -> float:
    """Standardize (BatchNorm without affine) + multinomial logistic regression."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0))
    probe.fit(train, np.asarray(y_train))
    return float((probe.predict(val) == np.asarray(y_val)).mean())


def few_label_probe(train: np.ndarray, y_train, val: np.ndarray, y_val, per_class: int,
                    draws: int = 5) -> float:
    """Mean top-1 of the probe fitted on ``per_class`` labeled images per class
    (``draws`` fixed random subsets)."""
    labels = np.asarray(y_train)
    scores = []
    for draw in range(draws):
        rng = np.random.default_rng(draw)
        pick = np.concatenate([rng.choice(np.flatnonzero(labels == c), per_class, replace=False)
                               for c in np.unique(labels)])
        scores.append(linear_probe(train[pick], labels[pick], val, y_val))
    return float(np.mean(scores))


def probe(encoder: torch.nn.Module, data, per_class: int, draws: int) -> Dict[str, float]:
    """``{'all': top-1 with all labels, 'few': top-1 with per_class labels}``."""
    (x_train, y_train), (x_val, y_val) = data
    train, val = features(encoder, x_train), features(encoder, x_val)
    return dict(all=linear_probe(train, y_train, val, y_val),
                few=few_label_probe(train, y_train, val, y_val, per_class, draws))


def pretrain_and_probe(method: str, seed: int, data, steps: int, evals: int,
                       per_class: int = 10, draws: int = 5,
                       log=print) -> Tuple[dict, torch.nn.Module]:
    """Pretrain ``method`` for ``steps`` and probe at step 0 and ``evals`` evenly
    spaced steps. Returns the run record (``curve``: step, epoch, cpu_s, wall_s,
    loss, all, few at each point) and the model."""
    np.random.seed(seed)
    model = build_model(method, seed)
    x_train = data[0][0]
    run = Pretraining(model, x_train, steps, conservative=method in CONSERVATIVE)
    steps_per_epoch = -(-len(x_train) // run.batch)
    curve = []
    for point in sorted({0, *np.linspace(0, steps, evals + 1).round().astype(int)[1:]}):
        run.run_to(int(point))
        scores = probe(model.encoder, data, per_class, draws)
        loss = float(np.mean(run.losses[-steps_per_epoch:])) if run.losses else float('nan')
        curve.append(dict(step=run.done, epoch=run.done / steps_per_epoch, cpu_s=run.cpu,
                          wall_s=run.wall, loss=loss, **scores))
        log(f'{method} seed {seed}: step {run.done}/{steps} ({run.done / steps_per_epoch:.1f} '
            f'epochs), pretraining cpu {run.cpu:.0f} s / wall {run.wall:.0f} s, loss '
            f'{loss:.4f}, probe all {scores["all"]:.4f}, {per_class}/class {scores["few"]:.4f}')
    return dict(method=method, seed=seed, steps=steps, curve=curve), model


# ---------------------------------------------------------------- report
def spread(values: List[float]) -> str:
    """``mean ± half-range`` over seeds (both values when there are two)."""
    values = np.asarray(values, dtype=float)
    if len(values) == 1:
        return f'{values[0]:.4f}'
    return f'{values.mean():.4f} ± {(values.max() - values.min()) / 2:.4f}'


def first_reaching(curve: List[dict], level: float, key: str = 'all') -> Optional[dict]:
    """The first point of ``curve`` (after step 0) whose ``key`` reaches ``level``."""
    return next((p for p in curve[1:] if p[key] >= level - 1e-12), None)


def report(runs: List[dict]) -> str:
    """Markdown: final probe accuracy vs random init per method (mean ± half-range
    over seeds), then each curve, then the two claims' reach points."""
    by_method: Dict[str, List[dict]] = {}
    for r in runs:
        by_method.setdefault(r['method'], []).append(r)
    lines = ['| method | seeds | steps (epochs) | pretraining CPU s | random init: all | '
             'pretrained: all | random init: 10/class | pretrained: 10/class |',
             '|---|---|---|---|---|---|---|---|']
    for method, rs in by_method.items():
        first, last = [r['curve'][0] for r in rs], [r['curve'][-1] for r in rs]
        lines.append(
            f'| {method} | {",".join(str(r["seed"]) for r in rs)} | '
            f'{rs[0]["steps"]} ({last[0]["epoch"]:.0f}) | '
            f'{np.mean([p["cpu_s"] for p in last]):.0f} | '
            f'{spread([p["all"] for p in first])} | {spread([p["all"] for p in last])} | '
            f'{spread([p["few"] for p in first])} | {spread([p["few"] for p in last])} |')
    lines += ['', '| method | seed | step | epoch | CPU s | wall s | loss | all | 10/class |',
              '|---|---|---|---|---|---|---|---|---|']
    for r in runs:
        for p in r['curve']:
            lines.append(f'| {r["method"]} | {r["seed"]} | {p["step"]} | {p["epoch"]:.1f} | '
                         f'{p["cpu_s"]:.0f} | {p["wall_s"]:.0f} | {p["loss"]:.4f} | '
                         f'{p["all"]:.4f} | {p["few"]:.4f} |')
    lines.append('')
    for fast, slow in (('localmim', 'mae'), ('ummae', 'simmim')):
        for seed in sorted({r['seed'] for r in runs}):
            a = [r for r in by_method.get(fast, []) if r['seed'] == seed]
            b = [r for r in by_method.get(slow, []) if r['seed'] == seed]
            if not (a and b):
                continue
            goal = b[0]['curve'][-1]
            hit = first_reaching(a[0]['curve'], goal['all'])
            where = (f'first at step {hit["step"]} ({hit["cpu_s"]:.0f} CPU s)' if hit
                     else 'not within its budget')
            lines.append(f'- seed {seed}: {fast} reaches {slow}\'s final all-label probe '
                         f'{goal["all"]:.4f} (step {goal["step"]}, {goal["cpu_s"]:.0f} CPU s): '
                         f'{where}.')
    return '\n'.join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', default='data/digits', help='digits image folder')
    parser.add_argument('--methods', nargs='+', default=['mae'], choices=sorted(METHODS))
    parser.add_argument('--seeds', nargs='+', type=int, default=[0])
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument('--cpu-budget', type=float,
                        help='pretraining CPU seconds per run (steps calibrated per method)')
    budget.add_argument('--epochs', type=int, help='pretraining epochs per run instead')
    parser.add_argument('--evals', type=int, default=4, help='probe points after step 0')
    parser.add_argument('--per-class', type=int, default=10,
                        help='labels per class of the few-label probe')
    parser.add_argument('--threads', type=int, default=1, help='torch CPU threads')
    parser.add_argument('--json', help='write the runs here (appended per finished run)')
    parser.add_argument('--save', help='one method and seed: save the pretrained model here')
    parser.add_argument('--report', nargs='+', metavar='JSON',
                        help='only print the markdown report of saved runs')
    args = parser.parse_args()
    if args.report:
        print(report([r for path in args.report for r in json.loads(Path(path).read_text())]))
        return
    if args.save and len(args.methods) * len(args.seeds) != 1:
        parser.error('--save takes one method and one seed')
    torch.set_num_threads(args.threads)
    counts = write_digits_folder(args.out)
    data = (load_split(args.out, 'train'), load_split(args.out, 'val'))
    print(f'digits: {counts["train"]} train / {counts["val"]} val images, {IMAGE} px; '
          f'{args.threads} torch thread(s); clock: process CPU time')
    steps_per_epoch = -(-counts['train'] // 128)
    runs = []
    for seed in args.seeds:
        for method in args.methods:
            if args.cpu_budget:
                cost = cpu_seconds_per_step(method, build_model(method, seed), data[0][0])
                steps = max(1, int(args.cpu_budget / cost))
                print(f'{method} seed {seed}: {cost:.3f} CPU s/step -> {steps} steps '
                      f'for {args.cpu_budget:.0f} CPU s')
            else:
                steps = (args.epochs or 200) * steps_per_epoch
            record, model = pretrain_and_probe(method, seed, data, steps, args.evals,
                                               args.per_class)
            runs.append(record)
            if args.json:
                Path(args.json).write_text(json.dumps(runs, indent=1))
            if args.save:
                torch.save({'state_dict': model.state_dict()}, args.save)
    print(report(runs))


if __name__ == '__main__':
    main()
