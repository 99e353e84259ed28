"""Load and crop in one step, decoding only what the crop needs.

The pretraining pipelines used to decode every JPEG in full (``LoadImageSafely``),
then crop a part of it and shrink that to 224 px. These transforms read the image
size from the header first (Pillow opens lazily), draw the crop there, from the same
distribution and with the same numpy draws as the transform they replace, and ask
libjpeg for the largest DCT reduction (1/2, 1/4, 1/8) that still leaves the crop at
least the output size (:func:`~mmmim.datasets.resize.draft_factor`; the decode itself
is :func:`~mmmim.datasets.fast_decode.decode_rgb_fast`: libjpeg-turbo straight into
numpy for plain JPEGs, Pillow for the rest, the same pixels either way). The crop box is
mapped to the reduced image without rounding and resized there
(:func:`~mmmim.datasets.resize.resize_region`).

Without a reduction (a small image, a small crop, PNG, an EXIF-rotated JPEG) and
with ``resize_backend='pillow'`` the output is the old pipeline's, pixel for pixel,
for the same draws; the reduced decode stays within the PSNR stated in
docs and checked by ``tests/test_datasets/test_fast_crop.py``.

Everything else is :class:`~mmmim.datasets.LoadImageSafely`'s: the same mode
conversions, EXIF orientation, size limits, and unusable files skipped (``None``,
counted in ``skipped``, logged naming the file) or raised, per ``on_error``. The output
is what the old pipeline gave: BGR uint8 ``[S, S, 3]``, for the data preprocessors'
``bgr_to_rgb=True``.
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple, Union

import numpy as np
from mmpretrain.datasets.transforms import RandomResizedCrop

from mmmim.registry import TRANSFORMS

from .conservative_crop import ConservativeCrop
from .decode import rgb_to_bgr
from .fast_decode import decode_rgb_fast
from .loading import LoadImageSafely, file_errors
from .resize import RESIZE_BACKENDS, draft_factor, resize_region


class _LoadAndCrop(LoadImageSafely):
    """Shared part: ``transform`` around ``load_crop`` with LoadImageSafely's skip
    rules. Subclasses define ``plan`` (crop from the header size) and ``finish``."""

    def __init__(self, resize_backend: str, reduce: bool, load_args: dict) -> None:
        for unsupported in ('to_float32', 'cache_images'):
            if load_args.get(unsupported):
                raise ValueError(f'{type(self).__name__}: {unsupported} is not supported; '
                                 'use LoadImageSafely and a separate crop')
        super().__init__(**load_args)
        if resize_backend not in RESIZE_BACKENDS:
            raise ValueError(f'{type(self).__name__}: resize_backend={resize_backend!r}, '
                             f'expected one of {RESIZE_BACKENDS}')
        self.resize_backend = resize_backend
        self.reduce = reduce

    def transform(self, results: dict) -> Optional[dict]:
        """Load and crop ``results['img_path']``; ``None`` if unusable and skipping."""
        loaded = self.load_or_skip(str(results['img_path']), self.load_crop)
        if loaded is None:
            return None
        img, ori_hw, extra = loaded
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = ori_hw
        results.update(extra)
        return results

    def load_crop(self, path: str) -> Tuple[np.ndarray, Tuple[int, int], dict]:
        """``(BGR crop [S, S, 3] uint8, original (h, w), extra result keys)``."""
        data = self.read(path)
        with file_errors(path):
            rgb, planned, scale = decode_rgb_fast(
                data, self.plan, self.alpha_background, self.max_pixels,
                self.exif_orientation)
        img, extra = self.finish(rgb, planned, scale)
        size = planned[0]
        return rgb_to_bgr(img), (size[1], size[0]), extra

    def __repr__(self) -> str:
        return (f'{type(self).__name__}({self.crop!r}, resize_backend='
                f'{self.resize_backend!r}, reduce={self.reduce}, '
                f'on_error={self.on_error!r}, max_pixels={self.max_pixels})')


@TRANSFORMS.register_module()
class LoadAndRandomResizedCrop(_LoadAndCrop):
    """``LoadImageSafely`` + mmpretrain's ``RandomResizedCrop`` in one transform.

    Required keys: ``img_path``. Added keys: ``img`` (BGR uint8 ``[h, w, 3]`` at
    ``scale``), ``img_shape``, ``ori_shape`` (the image's ``(h, w)``).

    Args:
        scale, crop_ratio_range, aspect_ratio_range, max_attempts, interpolation:
            mmpretrain's ``RandomResizedCrop`` (its ``rand_crop_params`` draws the box).
        resize_backend: ``'torch'`` (default, fastest measured) or ``'pillow'``
            (:mod:`mmmim.datasets.resize`).
        reduce: decode JPEGs at a reduced DCT scale where the crop allows.
        **load_args: ``LoadImageSafely``'s ``on_error``, ``alpha_background``,
            ``max_pixels``, ``exif_orientation``, ``backend_args``.
    """

    def __init__(self,
                 scale: Union[int, Sequence[int]],
                 crop_ratio_range: Tuple[float, float] = (0.08, 1.0),
                 aspect_ratio_range: Tuple[float, float] = (3. / 4., 4. / 3.),
                 max_attempts: int = 10,
                 interpolation: str = 'bicubic',
                 resize_backend: str = 'torch',
                 reduce: bool = True,
                 **load_args) -> None:
        super().__init__(resize_backend, reduce, load_args)
        self.crop = RandomResizedCrop(scale, crop_ratio_range, aspect_ratio_range,
                                      max_attempts, interpolation, backend='pillow')
        self.out_size = tuple(self.crop.scale[::-1])  # (w, h)

    def plan(self, size: Tuple[int, int]) -> Tuple[tuple, int]:
        """Draw the crop on a ``(w, h)`` image: ``((size, box), DCT factor)``."""
        width, height = size
        y, x, h, w = self.crop.rand_crop_params(np.empty((height, width, 0), np.uint8))
        factor = draft_factor((w, h), self.out_size) if self.reduce else 1
        return (size, (x, y, x + w, y + h)), factor

    def finish(self, rgb: np.ndarray, planned: tuple, scale: float) -> Tuple[np.ndarray, dict]:
        """Resize the planned box of the (maybe reduced) decode to ``scale``."""
        box = tuple(c * scale for c in planned[1])
        return resize_region(rgb, box, self.out_size, self.crop.interpolation,
                             self.resize_backend), {}


@TRANSFORMS.register_module()
class LoadAndConservativeCrop(_LoadAndCrop):
    """``LoadImageSafely`` + :class:`~mmmim.datasets.ConservativeCrop` (PixMIM) in one
    transform: the shorter side is decoded at the largest DCT reduction that keeps it
    at least ``crop_size``, then resized, padded and cropped as ``ConservativeCrop``
    does (the resized size computed from the full size, the same offset draws).

    Keys as :class:`LoadAndRandomResizedCrop`, plus ``crop_bbox`` (as
    ``ConservativeCrop``). ``crop_size``, ``padding``, ``interpolation``:
    ``ConservativeCrop``'s; the rest as :class:`LoadAndRandomResizedCrop`.
    """

    def __init__(self, crop_size: int = 224, padding: int = 4,
                 interpolation: str = 'bicubic', resize_backend: str = 'torch',
                 reduce: bool = True, **load_args) -> None:
        super().__init__(resize_backend, reduce, load_args)
        self.crop = ConservativeCrop(crop_size, padding, interpolation, backend='pillow')

    def plan(self, size: Tuple[int, int]) -> Tuple[tuple, int]:
        """``((size,), DCT factor)`` keeping the shorter side >= ``crop_size``."""
        side, crop = min(size), self.crop.crop_size
        factor = draft_factor((side, side), (crop, crop)) if self.reduce else 1
        return (size,), factor

    def finish(self, rgb: np.ndarray, planned: tuple, scale: float) -> Tuple[np.ndarray, dict]:
        """Shorter side to ``crop_size`` (from the full size), pad, draw, crop."""
        width, height = planned[0]
        target = self.crop.resized_size(height, width)
        if target != (rgb.shape[1], rgb.shape[0]):
            rgb = resize_region(rgb, (0, 0, width * scale, height * scale), target,
                                self.crop.interpolation, self.resize_backend)
        img, box = self.crop.pad_and_crop(rgb)
        return img, {'crop_bbox': box}
