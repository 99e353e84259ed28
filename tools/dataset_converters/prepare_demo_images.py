"""Write scikit-image's bundled photographs as a demo pretraining folder (offline).

    python tools/dataset_converters/prepare_demo_images.py [OUT_DIR] [--with-classes]

OUT_DIR (default ``data/demo``) gets the photographs flat and unlabeled, the layout the
demo config reads. ``--with-classes`` also writes an ImageNet-style labeled copy
(``train/<class>/<image>`` and ``meta/train.txt``) into ``--classes-dir`` (default
``OUT_DIR`` + ``_classes``, a sibling, so that the recursive search of OUT_DIR does not
see every image twice). Existing files are kept unless ``--overwrite``.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import List, Optional

from mmmim.datasets.demo import write_demo_classes, write_demo_images


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('out_dir', nargs='?', default='data/demo',
                        help='folder for the flat, unlabeled images (default: data/demo)')
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


def main(argv: Optional[List[str]] = None) -> List[Path]:
    """Write the demo folder(s) and print every file; returns the paths."""
    args = parse_args(argv)
    paths = write_demo_images(args.out_dir, overwrite=args.overwrite)
    print(f'{len(paths)} unlabeled demo images in {args.out_dir}:')
    print('\n'.join('  ' + describe(p) for p in paths))
    if args.with_classes:
        classes_dir = args.classes_dir or str(Path(args.out_dir)) + '_classes'
        labeled = write_demo_classes(classes_dir, overwrite=args.overwrite)
        print(f'{len(labeled) - 1} labeled demo images and their list in {classes_dir}:')
        print('\n'.join('  ' + describe(p) for p in labeled))
        paths += labeled
    return paths


if __name__ == '__main__':
    main()
