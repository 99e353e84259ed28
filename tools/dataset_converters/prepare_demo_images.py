"""Write scikit-image's bundled photographs as a demo pretraining folder (offline).

    python tools/dataset_converters/prepare_demo_images.py [OUT_DIR] [--with-classes]

OUT_DIR (default ``data/demo``) gets the training photographs flat and unlabeled, the
layout the demo config reads; the held-out ones (``mmmim.datasets.demo.DEMO_HELDOUT``,
never trained on, shown in the demo's reconstruction figures) go to a sibling,
``--heldout-dir`` (default ``OUT_DIR`` + ``_heldout``). ``--with-classes`` also writes an
ImageNet-style labeled copy of every photograph (``train/<class>/<image>`` and
``meta/train.txt``) into ``--classes-dir`` (default ``OUT_DIR`` + ``_classes``, a
sibling, so that the recursive search of OUT_DIR does not see every image twice).
Existing files are kept unless ``--overwrite``.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import List, Optional

from mmmim.datasets.demo import demo_split, write_demo_classes, write_demo_images


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('out_dir', nargs='?', default='data/demo',
                        help='folder for the flat, unlabeled images (default: data/demo)')
    parser.add_argument('--heldout-dir', default=None,
                        help='folder for the held-out images (default: OUT_DIR_heldout)')
    parser.add_argument('--with-classes', action='store_true',
                        help='also write a class-subfolder copy with meta/train.txt')
    parser.add_argument('--classes-dir', default=None,
                        help='folder for the labeled copy (default: OUT_DIR_classes)')
    parser.add_argument('--overwrite', action='store_true', help='rewrite existing files')
    return parser.parse_args(argv)


def describe(path: Path) -> str:
    """``path  WxH MODE`` for an image, ``path`` otherwise."""
    from PIL import Image
    if path.suffix not in ('.jpg', '.png'):
        return str(path)
    with Image.open(path) as img:
        return f'{path}  {img.width}x{img.height} {img.mode}'


def write_and_list(what: str, out_dir: str, paths: List[Path]) -> List[Path]:
    print(f'{len(paths)} {what} in {out_dir}:')
    print('\n'.join('  ' + describe(p) for p in paths))
    return paths


def main(argv: Optional[List[str]] = None) -> List[Path]:
    """Write the demo folder(s) and print every file; returns the paths."""
    args = parse_args(argv)
    train, heldout = demo_split()
    heldout_dir = args.heldout_dir or str(Path(args.out_dir)) + '_heldout'
    paths = write_and_list('unlabeled demo training images', args.out_dir,
                           write_demo_images(args.out_dir, train, args.overwrite))
    paths += write_and_list('held-out demo images (never trained on)', heldout_dir,
                            write_demo_images(heldout_dir, heldout, args.overwrite))
    if args.with_classes:
        classes_dir = args.classes_dir or str(Path(args.out_dir)) + '_classes'
        labeled = write_demo_classes(classes_dir, overwrite=args.overwrite)
        paths += write_and_list('labeled demo images and their list', classes_dir, labeled)
    return paths


if __name__ == '__main__':
    main()
