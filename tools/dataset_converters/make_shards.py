"""Write WebDataset-format tar shards of an image folder or annotation list, with an
index that ``TarShardDataset`` reads map-style.

    python tools/dataset_converters/make_shards.py data/imagenet/train data/in1k_shards \\
        --shard-size 5000 [--max-side 512] [--ann-file LIST] [--with-label]

Samples are listed as ``ImageFolder`` lists them (sorted; flat folder searched
recursively, class subfolders with ``--with-label``, or ``--ann-file``), so a dataset
over the shards has the folder's indices. Each sample is ``<key>.<ext>`` (the file's
bytes as they are) plus ``<key>.cls`` (the label as text) with labels. ``--max-side S``
stores images whose longer side exceeds S resized to S (Pillow bicubic, EXIF
orientation applied) and re-encoded as JPEG at ``--quality`` (95); the index says so
(``max_side``, ``jpeg_quality``, ``resized``). A file that cannot be decoded for the
resize is stored as it is (the loader skips and names it when training).

The index (``OUT/index.json``): format, max_side, jpeg_quality, classes, and per shard
its file, sample count, keys, member names, byte offsets and sizes of the images in
the tar, labels and source paths.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import re
import sys
import tarfile
from typing import Iterator, List, Optional, Tuple

from PIL import Image

from mmmim.datasets import ImageFolder
from mmmim.datasets.decode import ImageDecodeError, decode_rgb
from mmmim.datasets.tar_shards import INDEX_FORMAT

#: (source path, path relative to the source folder, label or None)
Sample = Tuple[str, str, Optional[int]]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='image folder (root of ann-file paths with --ann-file)')
    parser.add_argument('out', help='output folder for the shards and index.json')
    parser.add_argument('--shard-size', type=int, required=True, help='samples per shard')
    parser.add_argument('--max-side', type=int, default=None,
                        help='resize images whose longer side is larger to this')
    parser.add_argument('--quality', type=int, default=95, help='JPEG quality of resizes')
    parser.add_argument('--ann-file', default='', help='annotation list (path [label])')
    parser.add_argument('--with-label', action='store_true',
                        help='labels from class subfolders or the annotation list')
    parser.add_argument('--prefix', default='shard', help='shard file name prefix')
    args = parser.parse_args(argv)
    if args.shard_size < 1 or (args.max_side is not None and args.max_side < 1):
        parser.error('--shard-size and --max-side must be positive')
    return args


def list_samples(src: str, ann_file: str, with_label: bool) -> Tuple[List[Sample], list]:
    """The images as ``ImageFolder`` lists them, and its classes (or ``None``)."""
    folder = ImageFolder(data_root=src, ann_file=ann_file, with_label=with_label,
                         serialize_data=False)
    samples = [(info['img_path'], os.path.relpath(info['img_path'], src),
                info.get('gt_label') if with_label else None) for info in folder.data_list]
    classes = list(folder.metainfo['classes']) if with_label and folder.metainfo.get(
        'classes') else None
    return samples, classes


def sample_key(rel_path: str, taken: set) -> str:
    """A WebDataset key: the relative path without extension, dots made ``_`` (the
    first dot of a member name starts its extension), unique among ``taken``."""
    stem = os.path.splitext(rel_path.replace('\\', '/'))[0]
    key = re.sub(r'[.\s]', '_', stem).lstrip('/') or 'sample'
    unique, n = key, 1
    while unique in taken:
        unique, n = f'{key}_{n}', n + 1
    taken.add(unique)
    return unique


def image_bytes(path: str, max_side: Optional[int], quality: int) -> Tuple[bytes, str, bool]:
    """``(bytes, extension, resized)``: the file as it is, or re-encoded JPEG of it
    resized so that its longer side is ``max_side``."""
    with open(path, 'rb') as f:
        data = f.read()
    ext = os.path.splitext(path)[1].lower() or '.img'
    if max_side is None:
        return data, ext, False
    try:
        rgb = decode_rgb(data)  # [H, W, 3] uint8, EXIF orientation applied
    except ImageDecodeError as exc:
        print(f'make_shards: {path} stored unresized, cannot decode it: {exc}',
              file=sys.stderr)
        return data, ext, False
    height, width = rgb.shape[:2]
    if max(height, width) <= max_side:
        return data, ext, False
    ratio = max_side / max(height, width)
    size = (max(1, round(width * ratio)), max(1, round(height * ratio)))
    out = io.BytesIO()
    Image.fromarray(rgb).resize(size, Image.BICUBIC).save(out, 'JPEG', quality=quality)
    return out.getvalue(), '.jpg', True


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    """Add a member with fixed metadata (the shard's bytes depend only on the data)."""
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    tar.addfile(info, io.BytesIO(data))


def write_shard(path: str, samples: List[Sample], keys: List[str], args) -> dict:
    """Write one shard (through a temporary file) and return its index entry."""
    members, labels, resized = [], [], 0
    temporary = path + '.tmp'
    with tarfile.open(temporary, 'w', format=tarfile.PAX_FORMAT) as tar:
        for (source, _, label), key in zip(samples, keys):
            data, ext, was_resized = image_bytes(source, args.max_side, args.quality)
            resized += was_resized
            members.append(key + ext)
            _add(tar, key + ext, data)
            if label is not None:
                _add(tar, key + '.cls', str(label).encode())
            labels.append(label)
    offsets, sizes = member_offsets(temporary, members)
    os.replace(temporary, path)
    return dict(file=os.path.basename(path), num_samples=len(samples), keys=keys,
                members=members, offsets=offsets, sizes=sizes,
                labels=labels if args.with_label else None,
                sources=[rel for _, rel, _ in samples], resized=resized)


def member_offsets(path: str, members: List[str]) -> Tuple[List[int], List[int]]:
    """Byte offsets and sizes of the data of ``members`` in the tar at ``path``."""
    with tarfile.open(path) as tar:
        found = {m.name: (m.offset_data, m.size) for m in tar.getmembers()}
    return [found[m][0] for m in members], [found[m][1] for m in members]


def chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def make_shards(args) -> dict:
    """Write the shards and the index; returns the index."""
    samples, classes = list_samples(args.src, args.ann_file, args.with_label)
    os.makedirs(args.out, exist_ok=True)
    taken: set = set()
    keys = [sample_key(rel, taken) for _, rel, _ in samples]
    shards = []
    for number, (part, part_keys) in enumerate(zip(chunks(samples, args.shard_size),
                                                   chunks(keys, args.shard_size))):
        path = os.path.join(args.out, f'{args.prefix}-{number:06d}.tar')
        shards.append(write_shard(path, part, part_keys, args))
        print(f'make_shards: {path}: {len(part)} samples')
    index = dict(format=INDEX_FORMAT, num_samples=len(samples), max_side=args.max_side,
                 jpeg_quality=args.quality if args.max_side else None,
                 resized=sum(s['resized'] for s in shards), classes=classes, shards=shards)
    temporary = os.path.join(args.out, 'index.json.tmp')
    with open(temporary, 'w') as f:
        json.dump(index, f)
    os.replace(temporary, os.path.join(args.out, 'index.json'))
    return index


def main(argv=None) -> None:
    index = make_shards(parse_args(argv))
    print(f'make_shards: {index["num_samples"]} samples in {len(index["shards"])} shards'
          + (f', {index["resized"]} resized to max side {index["max_side"]}'
             if index['max_side'] else ''))


if __name__ == '__main__':
    main()
