"""GPU-decode mode: data loader workers only read bytes and draw the augmentation; the
model's device decodes (nvJPEG through ``torchvision.io.decode_jpeg``), crops, resizes
and flips the batch.

Worker side (the train pipeline)::

    LoadImageBytes -> DrawResizedCrop -> DrawFlip -> PackBytes

``LoadImageBytes`` reads the file (any mmengine fileio path, tar shard members
included) and its header size; ``DrawResizedCrop`` draws the crop from that size with
mmpretrain's ``RandomResizedCrop`` parameter draw (the same function, the same random
numbers: the same crops as the CPU pipeline for the same seed); ``DrawFlip`` draws the
flip as mmcv's ``RandomFlip``; ``PackBytes`` packs the bytes as a 1-D uint8 tensor and
the drawn parameters in the data sample. The collate is mmengine's ``pseudo_collate``
(a list: the byte strings differ in length).

Device side (:mod:`mmmim.models.gpu_decode_preprocessor`, the model registry's
package): :class:`GPUDecodePreprocessor` (mmengine's ``ImgDataPreprocessor`` plus the
decode) turns the list into the ``[B, 3, h, w]`` uint8 BGR batch that
``LoadImageSafely`` + ``RandomResizedCrop`` + ``RandomFlip`` + ``PackInputs`` would have
given, then normalizes as before. The same code runs on the CPU (``decode_jpeg``
decodes there too), which is how the tests check it.

Images nvJPEG should not get (not JPEG, CMYK, an EXIF rotation) are decoded in the
worker by ``decode_rgb`` (every conversion of ``LoadImageSafely``) and travel as pixels
``[3, H, W]``; files that cannot be read or whose header is broken are skipped and
named as ``LoadImageSafely`` skips them; a JPEG whose body fails to decode on the
device is dropped from its batch with a warning naming it.
"""
from __future__ import annotations

import io
from typing import Optional, Tuple

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmcv.transforms import RandomFlip as _RandomFlip
from mmpretrain.datasets.transforms import RandomResizedCrop
from mmpretrain.structures import DataSample
from PIL import Image

from mmmim.models.gpu_decode_preprocessor import GPUDecodePreprocessor, decode_batch
from mmmim.registry import TRANSFORMS

from .decode import ImageDecodeError, check_size, decode_rgb
from .loading import LoadImageSafely, file_errors

#: header modes nvJPEG decodes to RGB as Pillow does
DEVICE_MODES = ('RGB', 'L')
__all__ = ['DrawFlip', 'DrawResizedCrop', 'GPUDecodePreprocessor', 'LoadImageBytes',
           'PackBytes', 'decode_batch']


@TRANSFORMS.register_module()
class LoadImageBytes(LoadImageSafely):
    """Read an image file's bytes and its size, without decoding it.

    Required keys: ``img_path``. Added keys: ``img_bytes`` (the file, for a JPEG the
    device can decode) or ``img_rgb`` (``[H, W, 3]`` uint8 RGB pixels decoded here,
    for anything else), ``img_shape`` and ``ori_shape`` (``(H, W)``).

    Args: as :class:`LoadImageSafely` (``on_error``, ``alpha_background``,
        ``max_pixels``, ``exif_orientation``, ``backend_args``); skips are counted
        and named the same way.
    """

    def transform(self, results: dict) -> Optional[dict]:
        loaded = self.load_or_skip(str(results['img_path']), self.read_for_device)
        if loaded is None:
            return None
        data, size, rgb = loaded
        results.pop('img_bytes', None)
        results.pop('img_rgb', None)
        if rgb is None:
            results['img_bytes'] = data
        else:  # decoded here
            results['img_rgb'] = rgb
        results['img_shape'] = results['ori_shape'] = size
        return results

    def read_for_device(self, path: str
                        ) -> Tuple[bytes, Tuple[int, int], Optional[np.ndarray]]:
        """``(bytes, (H, W), None)`` for a JPEG the device decodes; ``(bytes, (H, W),
        [H, W, 3] uint8 RGB)`` for an image decoded here.

        Raises:
            ImageLoadError: unreadable file, unidentifiable, oversized or undecodable
                image.
        """
        data = self.read(path)
        with file_errors(path):
            size, on_device = self.header(data)
            if on_device:
                return data, size, None
            rgb = decode_rgb(data, self.alpha_background, self.max_pixels,
                             self.exif_orientation)
            return data, rgb.shape[:2], rgb

    def header(self, data: bytes) -> Tuple[Tuple[int, int], bool]:
        """``((H, W), whether the device decodes it)``: a JPEG that nvJPEG decodes as
        Pillow would (RGB or gray, no EXIF rotation to apply). Reads the header only.

        Raises:
            ImageDecodeError: the header cannot be read, or the image is too large.
        """
        try:
            with Image.open(io.BytesIO(data)) as img:
                check_size(img.size, self.max_pixels)
                on_device = img.format == 'JPEG' and img.mode in DEVICE_MODES and not (
                    self.exif_orientation and img.getexif().get(0x0112, 1) != 1)
                return (img.size[1], img.size[0]), on_device
        except ImageDecodeError:
            raise
        except Exception as exc:  # as decode_rgb: any header failure is the file's
            raise ImageDecodeError(f'{type(exc).__name__}: {exc}') from exc


@TRANSFORMS.register_module()
class DrawResizedCrop(RandomResizedCrop):
    """Draw ``RandomResizedCrop``'s crop from ``img_shape`` without touching pixels.

    Same arguments as mmpretrain's ``RandomResizedCrop`` (``interpolation`` and
    ``backend`` are ignored: the device resizes bicubic, antialiased). Adds
    ``crop_params`` ``(offset_h, offset_w, crop_h, crop_w)`` and sets ``img_shape``
    to the output ``(h, w)``.
    """

    def transform(self, results: dict) -> dict:
        height, width = results['img_shape'][:2]
        shape_only = np.empty((height, width, 0), np.uint8)  # rand_crop_params reads .shape
        results['crop_params'] = tuple(int(v) for v in self.rand_crop_params(shape_only))
        results['img_shape'] = tuple(self.scale)
        return results


@TRANSFORMS.register_module()
class DrawFlip(_RandomFlip):
    """Draw mmcv's ``RandomFlip`` (``flip``, ``flip_direction``) without flipping;
    only ``direction='horizontal'``."""

    def __init__(self, prob: float = 0.5, direction: str = 'horizontal') -> None:
        if direction != 'horizontal':
            raise ValueError(f'DrawFlip: only horizontal flips, got {direction!r}')
        super().__init__(prob=prob, direction=direction)

    def _flip(self, results: dict) -> None:
        """The device flips; nothing to do here."""


@TRANSFORMS.register_module()
class PackBytes(BaseTransform):
    """Pack for the device: ``inputs`` is the file as a 1-D uint8 tensor (or decoded
    pixels ``[3, H, W]`` uint8 RGB), ``data_samples`` carries ``img_path``,
    ``ori_shape``, ``img_shape`` (output), ``crop_params``, ``flip``."""

    META_KEYS = ('img_path', 'ori_shape', 'img_shape', 'crop_params', 'flip',
                 'flip_direction', 'sample_idx')

    def transform(self, results: dict) -> dict:
        if 'img_bytes' in results:
            inputs = torch.frombuffer(bytearray(results['img_bytes']), dtype=torch.uint8)
        else:
            inputs = torch.from_numpy(np.ascontiguousarray(results['img_rgb'].transpose(2, 0, 1)))
        sample = DataSample()
        sample.set_metainfo({k: results[k] for k in self.META_KEYS if k in results})
        return dict(inputs=inputs, data_samples=sample)
