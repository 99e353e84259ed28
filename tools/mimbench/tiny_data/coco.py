"""A tiny COCO-format instance dataset made from scikit-image's photographs.

For downstream (MMDetection) tests and demos without downloading COCO. Two
photographs, each segmented into real instances by classic image processing:

- ``coin``: :func:`skimage.data.coins` (gray coins on a table), a watershed on the
  Sobel elevation map from dark / bright markers, holes filled;
- ``galaxy``: :func:`skimage.data.hubble_deep_field` (galaxies on the sky),
  thresholded luminance.

Each photograph is cut into a grid of tiles; a tile is resized so that its long side
is ``size`` pixels (image bilinear, labels nearest) and every object of at least
``min_area`` pixels in the tile becomes an instance (polygon from its contour, box,
area). Layout written under ``out``::

    annotations/instances_train2017.json, annotations/instances_val2017.json
    train2017/<name>.jpg, val2017/<name>.jpg
    stuffthingmaps/train2017/<name>.png, stuffthingmaps/val2017/<name>.png

The stuff-thing maps (COCO-stuff style, for HTC's semantic branch) are uint8 label
images over :data:`STUFF_THING_CLASSES`: thing pixels carry their category's index (0
coin, 1 galaxy), the rest of the tile the photograph's stuff class (2 table, 3 sky);
pixels of objects too small to be annotated are 255 (ignore).

Configs use the dataset through :data:`TINY_COCO_METAINFO`
(``metainfo=dict(classes=('coin', 'galaxy'), palette=...)``); mmdet's
``CocoDataset`` matches classes by category name. Everything is deterministic.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import numpy as np

#: Instance categories, in COCO category-id order (ids 1, 2).
CLASSES = ('coin', 'galaxy')
PALETTE = [(220, 20, 60), (0, 82, 255)]
TINY_COCO_METAINFO = dict(classes=CLASSES, palette=PALETTE)
#: Labels of the stuff-thing maps: things first (as CLASSES), then stuff. 255 = ignore.
STUFF_THING_CLASSES = CLASSES + ('table', 'sky')
IGNORE_INDEX = 255


@dataclass(frozen=True)
class TiledPhoto:
    """A photograph, how to segment it and how it is tiled.

    Attributes:
        photo: ``skimage.data`` loader name.
        category: instance category of its objects (one of :data:`CLASSES`).
        stuff: semantic class of the rest (one of :data:`STUFF_THING_CLASSES`).
        grid: (rows, cols) of tiles.
        val_tiles: tile indices (row-major) that go to the validation split.
    """
    photo: str
    category: str
    stuff: str
    grid: Tuple[int, int]
    val_tiles: Tuple[int, ...]


PHOTOS = (TiledPhoto('coins', 'coin', 'table', grid=(2, 3), val_tiles=(4,)),
          TiledPhoto('hubble_deep_field', 'galaxy', 'sky', grid=(3, 3), val_tiles=(4,)))


def segment_coins(image: np.ndarray) -> np.ndarray:
    """Coins of ``skimage.data.coins``: ``[H, W]`` uint8 -> ``[H, W]`` bool."""
    from scipy import ndimage as ndi
    from skimage import filters, segmentation
    markers = np.zeros(image.shape, np.uint8)
    markers[image < 30] = 1      # table
    markers[image > 150] = 2     # coin
    coins = segmentation.watershed(filters.sobel(image), markers) == 2
    return ndi.binary_fill_holes(coins)


def segment_galaxies(image: np.ndarray) -> np.ndarray:
    """Bright objects of ``skimage.data.hubble_deep_field``: ``[H, W, 3]`` -> bool."""
    from scipy import ndimage as ndi
    from skimage import color
    return ndi.binary_fill_holes(color.rgb2gray(image) > 0.3)


SEGMENTERS: Dict[str, Callable[[np.ndarray], np.ndarray]] = {
    'coins': segment_coins, 'hubble_deep_field': segment_galaxies}


def load_rgb(name: str) -> np.ndarray:
    """``skimage.data.<name>()`` as ``[H, W, 3]`` uint8."""
    from skimage import data
    image = getattr(data, name)()
    return np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image[..., :3]


def resize(array: np.ndarray, hw: Tuple[int, int], nearest: bool) -> np.ndarray:
    """Resize ``[H, W(, 3)]`` to ``hw`` with PIL (nearest for labels)."""
    from PIL import Image
    resample = Image.NEAREST if nearest else Image.BILINEAR
    return np.asarray(Image.fromarray(array).resize(hw[::-1], resample))


def tiles(photo: TiledPhoto, size: int):
    """Yield ``(index, image [h, w, 3] uint8, labels [h, w] int32)`` per tile, the
    long side resized to ``size``; labels: 0 background, k > 0 object k."""
    from skimage import data, measure
    image = getattr(data, photo.photo)()
    objects = measure.label(SEGMENTERS[photo.photo](image)).astype(np.int32)
    rgb = load_rgb(photo.photo)
    rows, cols = photo.grid
    th, tw = rgb.shape[0] // rows, rgb.shape[1] // cols
    scale = size / max(th, tw)
    out_hw = (max(32, round(th * scale)), max(32, round(tw * scale)))
    for index in range(rows * cols):
        r, c = divmod(index, cols)
        window = (slice(r * th, (r + 1) * th), slice(c * tw, (c + 1) * tw))
        yield (index, resize(rgb[window], out_hw, nearest=False),
               resize(objects[window], out_hw, nearest=True))


def polygon(mask: np.ndarray) -> List[float]:
    """Outer contour of a bool ``[h, w]`` mask as COCO ``[x1, y1, x2, y2, ...]``
    (pixel-centre coordinates, at least 3 points)."""
    from skimage import measure
    padded = np.pad(mask, 1)
    contour = max(measure.find_contours(padded.astype(np.float32), 0.5), key=len) - 1
    contour = measure.approximate_polygon(contour, tolerance=0.5)
    if len(contour) < 4:  # closed contour: first == last point
        raise ValueError(f'object of {int(mask.sum())} px has a degenerate contour')
    points = np.clip(contour[:-1, ::-1], 0, None)  # (row, col) -> (x, y)
    return [round(float(v), 2) for v in points.reshape(-1)]


def instances(labels: np.ndarray, min_area: int) -> Tuple[List[dict], np.ndarray]:
    """COCO annotations (without ids) of the objects of ``labels`` with at least
    ``min_area`` pixels, and the bool map of the smaller ones (ignored)."""
    annotations, too_small = [], np.zeros(labels.shape, bool)
    for k in np.unique(labels[labels > 0]):
        mask = labels == k
        if mask.sum() < min_area:
            too_small |= mask
            continue
        rows, cols = np.nonzero(mask)
        x0, y0 = int(cols.min()), int(rows.min())
        box = [x0, y0, int(cols.max()) + 1 - x0, int(rows.max()) + 1 - y0]
        annotations.append(dict(bbox=box, area=int(mask.sum()), iscrowd=0,
                                segmentation=[polygon(mask)]))
    return annotations, too_small


def semantic_map(labels: np.ndarray, too_small: np.ndarray, photo: TiledPhoto) -> np.ndarray:
    """COCO-stuff-style uint8 ``[h, w]`` map over :data:`STUFF_THING_CLASSES`."""
    semantic = np.full(labels.shape, STUFF_THING_CLASSES.index(photo.stuff), np.uint8)
    semantic[labels > 0] = STUFF_THING_CLASSES.index(photo.category)
    semantic[too_small] = IGNORE_INDEX
    return semantic


def write_tiny_coco(out, size: int = 128, min_area: int = 24) -> Dict[str, int]:
    """Write the tiny COCO dataset under ``out`` (see the module docstring).

    Args:
        out: dataset root (created).
        size: long side of every image in pixels (at least 32).
        min_area: smallest annotated object in pixels.

    Returns:
        Counts: images and instances per split, e.g. ``{'train_images': 13, ...}``.
    """
    from PIL import Image
    if size < 32:
        raise ValueError(f'size={size}: mmdet drops images under 32 px (min_size)')
    out = Path(out)
    splits = {s: dict(images=[], annotations=[],
                      categories=[dict(id=i + 1, name=n, supercategory='tiny')
                                  for i, n in enumerate(CLASSES)]) for s in ('train', 'val')}
    for photo in PHOTOS:
        for index, image, labels in tiles(photo, size):
            split = 'val' if index in photo.val_tiles else 'train'
            coco = splits[split]
            name = f'{photo.photo}_{index:02d}'
            annotations, too_small = instances(labels, min_area)
            if not annotations:
                continue
            image_id = sum(len(s['images']) for s in splits.values()) + 1
            coco['images'].append(dict(id=image_id, file_name=name + '.jpg',
                                       height=image.shape[0], width=image.shape[1]))
            first = sum(len(s['annotations']) for s in splits.values()) + 1
            for k, ann in enumerate(annotations):
                coco['annotations'].append(dict(
                    id=first + k, image_id=image_id,
                    category_id=CLASSES.index(photo.category) + 1, **ann))
            for folder, array, fmt in (
                    (f'{split}2017', image, 'JPEG'),
                    (f'stuffthingmaps/{split}2017', semantic_map(labels, too_small, photo),
                     'PNG')):
                path = out / folder / (name + ('.jpg' if fmt == 'JPEG' else '.png'))
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(array).save(path, format=fmt, quality=95)
    (out / 'annotations').mkdir(parents=True, exist_ok=True)
    counts = {}
    for split, coco in splits.items():
        (out / 'annotations' / f'instances_{split}2017.json').write_text(json.dumps(coco))
        counts[f'{split}_images'] = len(coco['images'])
        counts[f'{split}_instances'] = len(coco['annotations'])
    return counts
