"""Crop and resize a region of a uint8 RGB image, with Pillow's filters.

``resize_region`` takes the region as a box in (possibly fractional) pixel
coordinates, so a crop drawn on the full-size image can be cut from a reduced-size
decode (:func:`mmmim.datasets.decode.decode_rgb_scaled`) without rounding it.

Backends, for the same box:

- ``'pillow'``: crop then ``Image.resize`` (mmcv's ``imresize(backend='pillow')``): the
  pixels of mmpretrain's ``RandomResizedCrop(backend='pillow')``, exactly, for an
  integer box.
- ``'torch'``: ``F.interpolate(..., antialias=True)`` on the uint8 image, torch's port
  of Pillow's separable antialiased filters (AVX2 on x86). 4-5x faster than Pillow at
  ImageNet sizes; pixels differ from Pillow's by rounding (a few levels on a small
  fraction of pixels, above 45 dB PSNR; ``tests/test_datasets/test_fast_crop.py``).
  Bilinear and bicubic only; a fractional box goes to Pillow.
"""
from __future__ import annotations

import math
import warnings
from typing import Sequence, Tuple

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

RESIZE_BACKENDS = ('pillow', 'torch')
_PIL_FILTERS = {'nearest': Image.NEAREST, 'bilinear': Image.BILINEAR,
                'bicubic': Image.BICUBIC, 'box': Image.BOX, 'lanczos': Image.LANCZOS}
_TORCH_MODES = ('bilinear', 'bicubic')

Box = Tuple[float, float, float, float]


def resize_region(rgb: np.ndarray, box: Sequence[float], size: Tuple[int, int],
                  interpolation: str = 'bicubic', backend: str = 'torch') -> np.ndarray:
    """The region ``box = (x0, y0, x1, y1)`` of ``rgb`` resized to ``size``.

    Args:
        rgb: ``[H, W, C]`` uint8 image.
        box: region in pixel coordinates (pixel ``i`` spans ``[i, i + 1)``).
        size: output ``(width, height)``.
        interpolation: Pillow filter name (``'bicubic'``, ``'bilinear'``, ...).
        backend: ``'torch'`` or ``'pillow'`` (see the module docstring).

    Returns:
        ``[height, width, C]`` uint8, C-contiguous.
    """
    if backend not in RESIZE_BACKENDS:
        raise ValueError(f'resize backend {backend!r}, expected one of {RESIZE_BACKENDS}')
    x0, y0, x1, y1 = box
    whole = (math.floor(x0), math.floor(y0),
             min(math.ceil(x1), rgb.shape[1]), min(math.ceil(y1), rgb.shape[0]))
    region = rgb[whole[1]:whole[3], whole[0]:whole[2]]            # [h, w, C] view
    inner = (x0 - whole[0], y0 - whole[1], x1 - whole[0], y1 - whole[1])
    integral = inner == (0, 0, region.shape[1], region.shape[0])
    if backend == 'torch' and integral and interpolation in _TORCH_MODES:
        return _torch_resize(region, size, interpolation)
    resized = Image.fromarray(np.ascontiguousarray(region)).resize(
        size, _PIL_FILTERS[interpolation], box=None if integral else inner)
    return np.asarray(resized)


def _torch_resize(region: np.ndarray, size: Tuple[int, int], mode: str) -> np.ndarray:
    """Antialiased uint8 resize of ``[h, w, C]`` to ``(width, height)`` with torch."""
    with warnings.catch_warnings():  # Pillow's arrays are read-only; we only read
        warnings.simplefilter('ignore', UserWarning)
        hwc = torch.from_numpy(region)
    chw = hwc.permute(2, 0, 1)[None]                     # [1, C, h, w] view
    out = F.interpolate(chw, size=(size[1], size[0]), mode=mode, antialias=True)
    planes = [plane.numpy() for plane in out[0]]         # C x [height, width]
    return cv2.merge(planes) if len(planes) > 1 else planes[0][:, :, None]


def draft_factor(crop_size: Tuple[float, float], out_size: Tuple[int, int],
                 max_factor: int = 8) -> int:
    """The largest JPEG DCT reduction (1, 2, 4 or 8) that leaves a ``crop_size``
    ``(w, h)`` region at least ``out_size`` ``(w, h)`` pixels: the resize after it
    still only shrinks (or enlarges, if the crop was already smaller)."""
    factor = 1
    while (factor * 2 <= max_factor and crop_size[0] >= factor * 2 * out_size[0]
           and crop_size[1] >= factor * 2 * out_size[1]):
        factor *= 2
    return factor
