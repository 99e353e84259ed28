"""PixMIM's conservative crop: the whole object stays in view (no scale jitter)."""
from typing import Dict, Tuple

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness

from mmmim.registry import TRANSFORMS


@TRANSFORMS.register_module()
class ConservativeCrop(BaseTransform):
    """Resize the shorter side to ``crop_size``, reflect-pad by ``padding`` pixels,
    take a random ``crop_size`` square (PixMIM's replacement for RandomResizedCrop).

    On a square image the crop keeps at least ``((S - P) / S)^2`` of the resized image
    (S = crop size, P = padding; 96.5% at 224 / 4); the rest of the crop is a mirror of
    the border. Put a ``RandomFlip`` after it for PixMIM's horizontal flip. The offset
    is drawn from numpy's global RNG (seeded per worker by the runner).

    Why not mmpretrain's ``ResizeEdge(edge='short')`` + ``RandomCrop(padding=4,
    padding_mode='reflect')``: that composition is not this crop. ``RandomCrop``
    applies ``padding_mode`` only to ``pad_if_needed`` and pads ``padding`` with
    ``pad_val`` (black), and ``ResizeEdge`` truncates the longer side (451 x 300 at 224
    -> 336, here 337). With the same resized image and the same draws the two agree
    pixel for pixel inside the image and differ in the border
    (``tests/test_datasets/test_conservative_crop.py``).

    Required keys: ``img``. Modified keys: ``img``, ``img_shape``. Added key:
    ``crop_bbox`` ``(x1, y1, x2, y2)`` of the crop in the padded, resized image.

    Args:
        crop_size: side of the square output.
        padding: reflect padding on every side before cropping.
        interpolation, backend: of the resize (``mmcv.imresize``); a shorter side
            already equal to ``crop_size`` is not resampled.
    """

    def __init__(self, crop_size: int = 224, padding: int = 4,
                 interpolation: str = 'bicubic', backend: str = 'pillow') -> None:
        if crop_size < 1 or padding < 0:
            raise ValueError(f'need crop_size >= 1 and padding >= 0, got {crop_size}, '
                             f'{padding}')
        self.crop_size = crop_size
        self.padding = padding
        self.interpolation = interpolation
        self.backend = backend

    def resized_size(self, h: int, w: int) -> Tuple[int, int]:
        """``(width, height)`` with the shorter side at ``crop_size``, aspect ratio kept
        (longer side rounded)."""
        scale = self.crop_size / min(h, w)
        return max(self.crop_size, round(w * scale)), max(self.crop_size, round(h * scale))

    def resize_shorter_side(self, img: np.ndarray) -> np.ndarray:
        """Shorter side to ``crop_size`` (:meth:`resized_size`)."""
        h, w = img.shape[:2]
        size = self.resized_size(h, w)
        if size == (w, h):
            return img
        return mmcv.imresize(img, size, interpolation=self.interpolation,
                             backend=self.backend)

    @cache_randomness
    def crop_offset(self, padded_hw: Tuple[int, int]) -> Tuple[int, int]:
        """Uniform ``(y, x)`` top-left corner of the crop in the padded image."""
        return (np.random.randint(0, padded_hw[0] - self.crop_size + 1),
                np.random.randint(0, padded_hw[1] - self.crop_size + 1))

    def pad_and_crop(self, img: np.ndarray) -> Tuple[np.ndarray, Tuple[int, ...]]:
        """Draw the square crop of the reflect-padded resized ``[H, W, ...]`` image;
        returns ``(crop [S, S, ...], (x1, y1, x2, y2) in the padded image)``. Only the
        crop is padded (the same pixels as padding the whole image: the mirrored rows
        and columns lie inside the crop's part of the image)."""
        h, w = img.shape[:2]
        p, s = self.padding, self.crop_size
        y, x = self.crop_offset((h + 2 * p, w + 2 * p))
        top, left = y - p, x - p                 # crop corner in the unpadded image
        region = img[max(top, 0):min(top + s, h), max(left, 0):min(left + s, w)]
        pad = ((max(-top, 0), max(top + s - h, 0)),
               (max(-left, 0), max(left + s - w, 0))) + ((0, 0),) * (img.ndim - 2)
        if any(any(side) for side in pad):
            region = np.pad(region, pad, mode='reflect')  # mirror without the edge pixel
        return np.ascontiguousarray(region), (x, y, x + s, y + s)

    def transform(self, results: Dict) -> Dict:
        img, box = self.pad_and_crop(self.resize_shorter_side(results['img']))
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['crop_bbox'] = box
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(crop_size={self.crop_size}, '
                f'padding={self.padding}, interpolation={self.interpolation!r}, '
                f'backend={self.backend!r})')
