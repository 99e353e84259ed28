"""Decode the bytes of any common image file into an ``[H, W, 3]`` uint8 RGB array.

The one place that knows about image modes. Everything comes out 3-channel, 8-bit:

- grayscale (``L``, bilevel ``1``): the gray value repeated in the three channels;
- palette (``P``), CMYK and other colour modes: Pillow's conversion to RGB;
- with an alpha channel (``LA``, ``RGBA``, ``PA``, palette with transparency):
  composited over ``alpha_background`` (white by default). Transparent pixels keep
  colour values that nobody is meant to see (often black or garbage); compositing
  gives what an image viewer shows. ``alpha_background=None`` drops alpha instead;
- 16-bit (``I;16*``, and ``I`` as Pillow decodes 16-bit PNG / PGM / TIFF): scaled by
  ``255 / 65535`` with rounding, never truncated to the low byte or clipped at 255.
  16-bit *colour* PNG / TIFF are reduced to 8 bit by Pillow itself (high byte, i.e.
  ``floor(v / 256)``, within 1 of the rounded scaling);
- float (``F``): values in ``[0, 1]`` are scaled by 255; anything else has no defined
  8-bit meaning and is rejected.

The EXIF orientation tag is applied, as mmcv's cv2 loader does for ``color`` images.
Every problem with the bytes raises :class:`ImageDecodeError` saying why.
"""
from __future__ import annotations

import contextlib
import io
from typing import Any, Callable, Iterator, Optional, Sequence, Tuple

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

#: Modes whose samples do not fit in 8 bits (Pillow keeps them single-channel).
HIGH_DEPTH_MODES = ('I;16', 'I;16B', 'I;16L', 'I;16N', 'I', 'F')
#: Modes that carry an alpha channel.
ALPHA_MODES = ('LA', 'La', 'PA', 'RGBA', 'RGBa')
#: 10,000 x 10,000: above any camera; far below memory trouble in a data loader.
DEFAULT_MAX_PIXELS = 100_000_000


class ImageDecodeError(ValueError):
    """The bytes are not a usable image. The message gives the reason (no file name:
    the caller knows where the bytes came from)."""


def decode_rgb(data: bytes,
               alpha_background: Optional[Sequence[int]] = (255, 255, 255),
               max_pixels: Optional[int] = DEFAULT_MAX_PIXELS,
               exif_orientation: bool = True) -> np.ndarray:
    """Decode image bytes into an ``[H, W, 3]`` uint8 array in RGB order.

    Args:
        data: the whole file.
        alpha_background: RGB colour that transparent pixels are composited on;
            ``None`` drops the alpha channel.
        max_pixels: refuse images with more pixels than this (checked from the
            header, before decoding); ``None`` leaves only Pillow's own limit.
        exif_orientation: rotate / flip as the EXIF orientation tag says.

    Raises:
        ImageDecodeError: empty, unidentifiable, truncated, corrupt, zero-size or
            oversized data, or samples without a defined 8-bit scaling.
    """
    rgb, _, _ = decode_rgb_scaled(data, lambda size: (None, 1), alpha_background,
                                  max_pixels, exif_orientation)
    return rgb


#: ``plan(size) -> (anything, factor)``: sees the displayed ``(width, height)`` from the
#: header before decoding, returns what the caller wants back and the DCT reduction.
Plan = Callable[[Tuple[int, int]], Tuple[Any, int]]


def decode_rgb_scaled(data: bytes, plan: Plan,
                      alpha_background: Optional[Sequence[int]] = (255, 255, 255),
                      max_pixels: Optional[int] = DEFAULT_MAX_PIXELS,
                      exif_orientation: bool = True) -> Tuple[np.ndarray, Any, float]:
    """:func:`decode_rgb`, asking ``plan`` how much smaller the decode may be.

    ``plan`` gets the displayed size (EXIF orientation applied) read from the header
    and returns ``(planned, factor)``. A baseline or progressive JPEG stored upright
    is then decoded by libjpeg at ``1 / factor`` (1, 2, 4 or 8: an inverse DCT of
    fewer coefficients, Pillow's ``draft``); any other file is decoded in full.

    Returns:
        ``(rgb [h, w, 3] uint8, planned, scale)``: a full-size coordinate ``x`` is at
        ``x * scale`` in ``rgb`` (``scale`` 1 without reduction; the last row and
        column of a reduced decode may stand for a partial block).
    """
    if not data:
        raise ImageDecodeError('empty file (0 bytes)')
    with _decoder_errors(data), Image.open(io.BytesIO(data)) as img:
        check_size(img.size, max_pixels)
        orientation = _orientation(img) if exif_orientation else 1
        size = img.size[::-1] if orientation in _TRANSPOSING else img.size
        planned, factor = plan(size)
        scale = 1.0
        if factor > 1 and orientation == 1 and img.format == 'JPEG':
            scale = _draft(img, factor)
        img.load()
        if orientation != 1:
            img = _apply_exif_orientation(img)
        return to_rgb8(img, alpha_background), planned, scale


@contextlib.contextmanager
def _decoder_errors(data: bytes) -> Iterator[None]:
    """Turn any failure of Pillow on ``data`` into :class:`ImageDecodeError`."""
    try:
        yield
    except (ImageDecodeError, MemoryError):
        raise
    except UnidentifiedImageError as exc:
        raise ImageDecodeError(f'not a known image format (starts with {data[:16]!r})'
                               ) from exc
    except Exception as exc:  # the bytes are untrusted: any decoder failure is theirs
        raise ImageDecodeError(f'{type(exc).__name__}: {exc}') from exc


def _draft(img: Image.Image, factor: int) -> float:
    """Ask libjpeg for a ``1 / factor`` decode; returns the scale it will deliver."""
    width, height = img.size
    # Pillow picks the largest of 8, 4, 2, 1 not above min(W // w, H // h): asking
    # (W // f, H // f) gets exactly f (each quotient is in [f, 2f)).
    drafted = img.draft(img.mode, (width // factor, height // factor))
    if drafted is None:  # a multi-tile or already configured file: full size
        return 1.0
    return drafted[1][2] / width  # box (0, 0, W / s, H / s)


def check_size(size: Sequence[int], max_pixels: Optional[int]) -> None:
    """Reject a zero-size image or one with more than ``max_pixels`` pixels."""
    width, height = size
    if width < 1 or height < 1:
        raise ImageDecodeError(f'image has zero size ({width}x{height})')
    if max_pixels is not None and width * height > max_pixels:
        raise ImageDecodeError(f'image is {width}x{height} = {width * height} pixels, '
                               f'more than max_pixels={max_pixels}')


def to_rgb8(img: Image.Image,
            alpha_background: Optional[Sequence[int]] = (255, 255, 255)) -> np.ndarray:
    """Convert a decoded Pillow image of any mode into ``[H, W, 3]`` uint8 RGB."""
    if img.mode in HIGH_DEPTH_MODES:
        gray = scale_to_uint8(np.asarray(img))  # [H, W]
        return np.repeat(gray[:, :, None], 3, axis=2)
    if alpha_background is not None and has_alpha(img):
        img = composite(img, alpha_background)
    if img.mode == 'RGB':  # most JPEGs: convert() would only copy
        return np.asarray(img)
    return np.asarray(img.convert('RGB'))


def rgb_to_bgr(rgb: np.ndarray) -> np.ndarray:
    """``[H, W, 3]`` uint8 RGB -> C-contiguous BGR, as cv2 and mmcv's loaders give
    (``cv2.cvtColor``: 50x faster than numpy's copy of the reversed view)."""
    if rgb.dtype == np.uint8 and rgb.flags.c_contiguous:
        return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    return np.ascontiguousarray(rgb[:, :, ::-1])


def has_alpha(img: Image.Image) -> bool:
    """Whether the image carries transparency (alpha channel or palette entry)."""
    return img.mode in ALPHA_MODES or 'transparency' in img.info


def composite(img: Image.Image, background: Sequence[int]) -> Image.Image:
    """Alpha-composite ``img`` over a solid RGB ``background``."""
    rgba = img.convert('RGBA')
    base = Image.new('RGBA', rgba.size, (*(int(c) for c in background), 255))
    return Image.alpha_composite(base, rgba)


def scale_to_uint8(samples: np.ndarray) -> np.ndarray:
    """Scale 16-bit integer or [0, 1] float samples to uint8, rounding.

    Integers are read as 16-bit (``0..65535``), which is what Pillow produces for
    16-bit PNG, TIFF and PGM (PGM with another maxval is rescaled to 16 bit by Pillow).
    """
    if samples.dtype.kind == 'f':
        return _scale_float(samples)
    low, high = int(samples.min()), int(samples.max())
    if low < 0 or high > 65535:
        raise ImageDecodeError(f'integer samples span [{low}, {high}]; only 16-bit '
                               'data (0..65535) has a defined 8-bit scaling')
    wide = samples.astype(np.uint32)
    return ((wide * 255 + 32767) // 65535).astype(np.uint8)


def _scale_float(samples: np.ndarray) -> np.ndarray:
    """``[0, 1]`` floats to uint8; NaN becomes 0."""
    finite = samples[np.isfinite(samples)]
    if finite.size and (finite.min() < 0 or finite.max() > 1):
        raise ImageDecodeError(f'float samples span [{finite.min():g}, {finite.max():g}]; '
                               'only [0, 1] has a defined 8-bit scaling')
    clean = np.nan_to_num(samples.astype(np.float64), nan=0.0, posinf=1.0, neginf=0.0)
    return np.round(clean * 255).astype(np.uint8)


#: EXIF orientations that swap width and height (transpose, rotate 90 / 270, transverse).
_TRANSPOSING = (5, 6, 7, 8)


def _orientation(img: Image.Image) -> int:
    """The EXIF orientation tag (1 = as stored); unreadable EXIF counts as 1."""
    try:
        value = img.getexif().get(0x0112, 1)  # 0x0112: Orientation
    except Exception:  # unreadable EXIF says nothing about the pixels
        return 1
    return value if value in range(1, 9) else 1


def _apply_exif_orientation(img: Image.Image) -> Image.Image:
    """Apply the EXIF orientation tag; a broken EXIF block leaves the pixels as stored."""
    try:
        if _orientation(img) == 1:
            return img
        return ImageOps.exif_transpose(img)
    except Exception:  # unreadable EXIF says nothing about the pixels
        return img
