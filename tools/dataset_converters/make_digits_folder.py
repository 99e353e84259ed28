"""Write scikit-learn's handwritten digits as an ImageNet-style folder (offline).

    python tools/dataset_converters/make_digits_folder.py [OUT_DIR] [--size 32]

The 1,797 8x8 grey digits (10 classes) are upsampled (bicubic) to ``--size`` px RGB and
written as ``OUT_DIR/{train,val}/<digit>/<index>.png`` (default ``data/digits``), a
fixed 2:1 split (1,198 train / 599 val). Existing files are kept: the split does not
depend on what is on disk. The digits configs (``configs/digits/``) pretrain on
``train`` and probe with the labels of both splits.
"""
import argparse
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

SIZE = 32


def write_digits_folder(out: str, size: int = SIZE, seed: int = 0) -> Dict[str, int]:
    """Write the digits as ``out/{train,val}/<digit>/<index>.png``; returns the image
    count of each split. Every third image of a ``seed``-fixed permutation is val."""
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


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('out_dir', nargs='?', default='data/digits')
    parser.add_argument('--size', type=int, default=SIZE, help='image side in pixels')
    args = parser.parse_args(argv)
    counts = write_digits_folder(args.out_dir, args.size)
    print(f'{args.out_dir}: {counts["train"]} train / {counts["val"]} val images, '
          f'{args.size} px')


if __name__ == '__main__':
    main()
