"""Plain JPEGs through libjpeg-turbo straight into numpy (``simplejpeg``); the rest
through Pillow (:func:`~mmmim.datasets.decode.decode_rgb_scaled`).

Pillow decodes into its own image buffer (4 bytes a pixel) and ``np.asarray`` then
copies that out; ``simplejpeg`` (a wheel that bundles libjpeg-turbo) writes the RGB
array directly, with the same IDCT (``JDCT_ISLOW``) and the same fancy upsampling as
Pillow's decoder, so the pixels are Pillow's, bit for bit, at full size and at every
DCT reduction (1/2, 1/4, 1/8; ``tests/test_datasets/test_fast_decode.py``).

A JPEG takes the fast path only when nothing about it needs Pillow: YCbCr or gray
colour, no EXIF rotation (when ``exif_orientation``), within ``max_pixels`` and
Pillow's own limit, and decoded by libjpeg without a single warning (``strict``).
Anything else (PNG, CMYK, a rotated photo, a truncated or corrupt file, ...) and any
file when ``simplejpeg`` is not installed goes through Pillow with the same plan,
so every conversion, error and message is :mod:`mmmim.datasets.decode`'s.
"""
from __future__ import annotations

import io
from typing import Any, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

from .decode import DEFAULT_MAX_PIXELS, Plan, _orientation, decode_rgb_scaled

try:  # optional (requirements/optional.txt): without it every file goes to Pillow
    import simplejpeg
except ImportError:  # pragma: no cover - depends on the environment
    simplejpeg = None

def full_size(size: Tuple[int, int]) -> Tuple[None, int]:
    """The :data:`~mmmim.datasets.decode.Plan` of a full-size decode."""
    return None, 1


#: libjpeg colour spaces the fast path decodes exactly as Pillow does.
PLAIN_COLOURS = ('YCbCr', 'Gray')
_JPEG_SOI = b'\xff\xd8'


def decode_rgb_fast(data: bytes, plan: Plan,
                    alpha_background: Optional[Sequence[int]] = (255, 255, 255),
                    max_pixels: Optional[int] = DEFAULT_MAX_PIXELS,
                    exif_orientation: bool = True) -> Tuple[np.ndarray, Any, float]:
    """:func:`~mmmim.datasets.decode.decode_rgb_scaled` with the same arguments and
    result (``(rgb [h, w, 3] uint8, planned, scale)``), faster for plain JPEGs.

    ``plan`` is called once per file, either way (its draws are the caller's).
    """
    size = plain_jpeg_size(data, max_pixels, exif_orientation)
    if size is None:
        return decode_rgb_scaled(data, plan, alpha_background, max_pixels,
                                 exif_orientation)
    planned, factor = plan(size)
    rgb = _decode_scaled(data, size, factor)
    if rgb is None:  # libjpeg warned or failed: Pillow decides, on the same plan
        return decode_rgb_scaled(data, lambda _: (planned, factor), alpha_background,
                                 max_pixels, exif_orientation)
    return rgb, planned, 1 / factor  # as Pillow's draft: x -> x / factor


def plain_jpeg_size(data: bytes, max_pixels: Optional[int],
                    exif_orientation: bool) -> Optional[Tuple[int, int]]:
    """``(width, height)`` of a JPEG the fast path may decode; ``None`` for any file
    that needs Pillow (or when ``simplejpeg`` is missing)."""
    if simplejpeg is None or not data.startswith(_JPEG_SOI):
        return None
    try:
        height, width, colour, _ = simplejpeg.decode_jpeg_header(data)
    except MemoryError:
        raise
    except Exception:  # a broken header: Pillow names the problem
        return None
    limits = [n for n in (max_pixels, Image.MAX_IMAGE_PIXELS) if n]  # Pillow warns above
    if colour not in PLAIN_COLOURS or not 0 < width * height <= min(limits, default=np.inf):
        return None
    if exif_orientation and b'Exif\x00\x00' in data and _rotated(data):
        return None
    return width, height


def _rotated(data: bytes) -> bool:
    """Whether the EXIF orientation tag asks for a rotation or flip (Pillow reads it)."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            return _orientation(img) != 1
    except Exception:  # unreadable: Pillow's path reports it
        return True


def _decode_scaled(data: bytes, size: Tuple[int, int], factor: int) -> Optional[np.ndarray]:
    """RGB ``[ceil(H / f), ceil(W / f), 3]`` uint8 (libjpeg's ``1 / factor`` DCT
    scaling, as Pillow's ``draft``), or ``None`` on any libjpeg warning or error."""
    shape = (-(-size[1] // factor), -(-size[0] // factor), 3)
    try:
        rgb = simplejpeg.decode_jpeg(data, 'RGB', min_factor=factor, min_width=shape[1],
                                     min_height=shape[0], strict=True)
    except MemoryError:
        raise
    except Exception:  # untrusted bytes: Pillow decides and names the problem
        return None
    return rgb if rgb.shape == shape else None
