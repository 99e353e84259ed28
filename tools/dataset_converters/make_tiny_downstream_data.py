"""Write the tiny downstream datasets made from scikit-image's photographs (offline).

    python tools/dataset_converters/make_tiny_downstream_data.py OUT [--coco] [...]

Each dataset goes to ``OUT/<name>``; without a dataset flag all are written. ``coco``:
a COCO-format instance dataset (classes ``coin``, ``galaxy``) with COCO-stuff-style
semantic maps (see ``tools/mimbench/tiny_data/coco.py``). Point a downstream config at it
with ``--cfg-options`` ``data_root=OUT/coco/`` and the tiny metainfo (docs/downstream.md).
``ade``: an ADE20K-layout semantic dataset (``images|annotations/{training,validation}``,
label 0 = other, classes ``coin``, ``dark``, ``light``, ``warm``, ``blue``; see
``tools/mimbench/tiny_data/ade.py`` and docs/downstream_seg.md).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tools/: the bench, mimbench
from mimbench.tiny_data import TINY_DATASETS, write_tiny_downstream  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command-line arguments: OUT and one flag per registered dataset."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('out', help='output folder; dataset NAME goes to OUT/NAME')
    for name in TINY_DATASETS:
        parser.add_argument(f'--{name}', action='store_true',
                            help=f'write the {name} dataset (default: every dataset)')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    names = [n for n in TINY_DATASETS if getattr(args, n)] or None
    for name, counts in write_tiny_downstream(args.out, names).items():
        print(f'{args.out}/{name}: ' + ', '.join(f'{k} {v}' for k, v in counts.items()))


if __name__ == '__main__':
    main()
