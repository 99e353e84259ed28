"""Original / masked / reconstruction grid of a pixel-target pretraining checkpoint.

    python tools/analysis_tools/visualize_reconstruction.py CONFIG CHECKPOINT IMAGE [IMAGE ...]
        --out recon.png [--seed 0] [--image-size 224]

Predicted patches of a per-patch-normalized target are shown with the true patch
mean and variance (borrowed from the image, as MAE's own figures do); the output says
so. With a PixMIM low-pass filter in the target, the reconstruction is of the
filtered image.
"""
import argparse
import sys

import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from PIL import Image

import mmmim  # noqa: F401
from mmmim.registry import MODELS
from mmmim.visualization import reconstruct_pixels, reconstruction_grid


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('images', nargs='+')
    parser.add_argument('--out', default='reconstruction.png')
    parser.add_argument('--image-size', type=int, default=None,
                        help='square input size; default: the encoder img_size')
    parser.add_argument('--seed', type=int, default=0, help='seed of the mask draw')
    return parser.parse_args()


def load_square(path: str, size: int) -> np.ndarray:
    """RGB uint8 [size, size, 3]: shorter side resized to size, centre crop."""
    image = Image.open(path).convert('RGB')
    scale = size / min(image.size)
    image = image.resize((max(size, round(image.width * scale)),
                          max(size, round(image.height * scale))), Image.BICUBIC)
    left, top = (image.width - size) // 2, (image.height - size) // 2
    return np.asarray(image.crop((left, top, left + size, top + size)))


def main() -> int:
    args = parse_args()
    cfg = Config.fromfile(args.config)
    init_default_scope(cfg.get('default_scope', 'mmmim'))
    model = MODELS.build(cfg.model).eval()
    load_checkpoint(model, args.checkpoint, map_location='cpu', strict=True)
    size = args.image_size or cfg.model.encoder.get('img_size', 224)
    arrays = [load_square(p, size) for p in args.images]
    batch = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float()
    inputs = (batch - model.data_preprocessor.mean) / model.data_preprocessor.std
    torch.manual_seed(args.seed)
    results = reconstruct_pixels(model, inputs)
    Image.fromarray(reconstruction_grid(results)).save(args.out)
    note = (' (masked patches shown with the true per-patch mean/variance)'
            if results[0]['borrowed_statistics'] else '')
    print(f'wrote {args.out}: {len(results)} rows of original | masked | reconstruction{note}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
