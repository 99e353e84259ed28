"""A tiny ADE20K-style semantic segmentation dataset built from scikit-image's
photographs (offline, deterministic), for CPU tests of the UperNet configs.

Layout (the one mmseg's ``ADE20KDataset`` reads)::

    out_dir/images/{training,validation}/<photo>.jpg
    out_dir/annotations/{training,validation}/<photo>.png   (uint8 label map)

Labels are derived from the pixels themselves, so a segmentor can learn them:

- ``coins`` (grayscale): the coins, thresholded (Otsu) with their holes filled, are
  ``coin``; the background is "other";
- colour photographs (``astronaut``, ``chelsea``, ``coffee``, ``rocket``): every pixel
  of the lightly smoothed photo gets a colour class from its HSV value: ``dark``
  (value < 0.25), ``light`` (value > 0.8, saturation < 0.2), or, when saturated
  (saturation >= 0.35), ``warm`` (hue < 45 deg or >= 300 deg) or ``blue`` (165-300
  deg); anything else (greyish mid tones, the rare greens) is "other".

Labels are computed on the written view (after resizing), so they align with the
image pixel for pixel.

As in ADE20K, label 0 is "other" and class ``k`` (0-based, :data:`TINY_ADE_CLASSES`)
is stored as ``k + 1``, so the dataset is read with ``reduce_zero_label=True`` (0 ->
255, ignored). The class names are not ADE20K's, so mmseg's ``ADE20KDataset`` (whose
classes are fixed) cannot take them as a ``metainfo`` subset: read it with
``BaseSegDataset(reduce_zero_label=True, metainfo=TINY_ADE_METAINFO,
img_suffix='.jpg', seg_map_suffix='.png')`` and the ADE pipelines unchanged.

The training split holds each photo resized to :data:`SHORT_SIDE` px on its short
side; the validation split holds another view of the same photos (their mirrored
central 80 %, same short side).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Dict

import numpy as np

TINY_ADE_CLASSES = ('coin', 'dark', 'light', 'warm', 'blue')
TINY_ADE_PALETTE = [[230, 190, 40], [30, 30, 30], [240, 240, 240], [200, 60, 40],
                    [50, 90, 200]]
TINY_ADE_METAINFO = dict(classes=TINY_ADE_CLASSES, palette=TINY_ADE_PALETTE)
SHORT_SIDE = 96
SPLITS = ('training', 'validation')
OTHER = 0  # ADE's "other"; class k is stored as k + 1
_CROP = 0.8  # side fraction of the validation view's central crop


def _label_of(name: str) -> int:
    return TINY_ADE_CLASSES.index(name) + 1


def coin_labels(gray: np.ndarray) -> np.ndarray:
    """``[H, W]`` uint8 label map of a grayscale photo of coins: ``coin`` or other."""
    from scipy import ndimage
    from skimage.filters import gaussian, threshold_otsu
    smooth = gaussian(gray.astype(np.float64) / 255., sigma=1.0)
    coins = ndimage.binary_fill_holes(
        ndimage.binary_opening(smooth > threshold_otsu(smooth), iterations=1))
    return np.where(coins, _label_of('coin'), OTHER).astype(np.uint8)


def colour_labels(rgb: np.ndarray) -> np.ndarray:
    """``[H, W]`` uint8 label map of an RGB photo from the HSV rules of the module
    docstring (hue in degrees, saturation and value in [0, 1])."""
    from skimage.color import rgb2hsv
    from skimage.filters import gaussian
    hsv = rgb2hsv(gaussian(rgb.astype(np.float64) / 255., sigma=1.0, channel_axis=-1))
    hue, sat, val = hsv[..., 0] * 360., hsv[..., 1], hsv[..., 2]
    labels = np.full(hue.shape, OTHER, np.uint8)
    saturated = (sat >= 0.35) & (val >= 0.25)
    labels[saturated & ((hue < 45) | (hue >= 300))] = _label_of('warm')
    labels[saturated & (hue >= 165) & (hue < 300)] = _label_of('blue')
    labels[(val > 0.8) & (sat < 0.2)] = _label_of('light')
    labels[val < 0.25] = _label_of('dark')
    return labels


#: photo name -> labelling rule (applied to the view, gray or RGB as skimage gives it)
PHOTO_RULES: Dict[str, Callable[[np.ndarray], np.ndarray]] = {
    'astronaut': colour_labels, 'chelsea': colour_labels, 'coffee': colour_labels,
    'coins': coin_labels, 'rocket': colour_labels}


def _resized(photo: np.ndarray, short: int) -> np.ndarray:
    """``photo`` resized (bicubic) to ``short`` px on its short side."""
    from PIL import Image
    h, w = photo.shape[:2]
    size = (round(w * short / min(h, w)), round(h * short / min(h, w)))  # (W, H)
    return np.asarray(Image.fromarray(photo).resize(size, Image.BICUBIC))


def views(photo: np.ndarray) -> Dict[str, np.ndarray]:
    """The training view (whole photo) and the validation view (mirrored central
    crop), both :data:`SHORT_SIDE` px on the short side, gray or RGB as ``photo``."""
    h, w = photo.shape[:2]
    ch, cw = int(h * _CROP), int(w * _CROP)
    top, left = (h - ch) // 2, (w - cw) // 2
    crop = photo[top:top + ch, left:left + cw][:, ::-1]
    return {'training': _resized(photo, SHORT_SIDE),
            'validation': _resized(np.ascontiguousarray(crop), SHORT_SIDE)}


def _rgb(view: np.ndarray) -> np.ndarray:
    return np.repeat(view[..., None], 3, axis=-1) if view.ndim == 2 else view[..., :3]


def _save(array: np.ndarray, path: Path, fmt: str) -> None:
    """Write atomically (a hidden temporary file, then a rename)."""
    from PIL import Image
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f'.{path.name}.tmp')
    Image.fromarray(array).save(tmp, format=fmt, **({'quality': 95} if fmt == 'JPEG' else {}))
    os.replace(tmp, path)


def write_tiny_ade(out_dir) -> Dict[str, int]:
    """Write the tiny ADE-style dataset into ``out_dir`` (files are rewritten; the
    content is deterministic).

    Read it with ``data_root=out_dir``, ``data_prefix=dict(img_path=
    'images/<split>', seg_map_path='annotations/<split>')`` (see the module docstring
    for the dataset type and ``metainfo``).

    Returns:
        Counts per split: ``{'training_images': 5, 'training_labelled_pixels': ...,
        'validation_images': 5, ...}`` (labelled = not "other").
    """
    from skimage import data
    out, counts = Path(out_dir), {}
    for name, rule in PHOTO_RULES.items():
        photo = getattr(data, name)()
        for split, view in views(photo).items():
            labels = rule(view)
            _save(_rgb(view), out / 'images' / split / f'{name}.jpg', 'JPEG')
            _save(labels, out / 'annotations' / split / f'{name}.png', 'PNG')
            counts[f'{split}_images'] = counts.get(f'{split}_images', 0) + 1
            counts[f'{split}_labelled_pixels'] = (counts.get(f'{split}_labelled_pixels', 0)
                                                  + int((labels != OTHER).sum()))
    return counts
