"""The device side of the GPU-decode mode (:mod:`mmmim.datasets.gpu_decode` has the
worker side and the overview): :class:`GPUDecodePreprocessor` decodes the JPEG bytes
that ``PackBytes`` packed (``torchvision.io.decode_jpeg`` on the preprocessor's device:
nvJPEG on CUDA, libjpeg on the CPU), crops each image at its drawn box, resizes it
(bicubic, antialiased, as Pillow) and flips it, giving the ``[B, 3, h, w]`` uint8 BGR
batch of ``LoadImageSafely`` + ``RandomResizedCrop`` + ``RandomFlip`` + ``PackInputs``;
then mmengine's ``ImgDataPreprocessor`` normalizes it as before.
"""
from __future__ import annotations

import logging
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import ImgDataPreprocessor
from mmpretrain.structures import DataSample

from mmmim.registry import MODELS

#: (offset_h, offset_w, crop_h, crop_w), as mmpretrain's ``rand_crop_params``
CropParams = Tuple[int, int, int, int]


def crop_resize_flip(rgb: torch.Tensor, params: CropParams, out_hw: Sequence[int],
                     flip: bool) -> torch.Tensor:
    """Crop ``rgb`` ``[3, H, W]`` uint8 at ``params``, resize bicubic (antialiased, as
    Pillow) to ``out_hw`` and flip horizontally if ``flip``: ``[3, h, w]`` uint8 BGR."""
    top, left, height, width = params
    crop = rgb[None, :, top:top + height, left:left + width].float()
    out = F.interpolate(crop, size=tuple(out_hw), mode='bicubic', align_corners=False,
                        antialias=True)[0]
    out = out.round_().clamp_(0, 255).to(torch.uint8)
    if flip:
        out = out.flip(-1)
    return out[[2, 1, 0]]  # BGR, as LoadImageSafely + PackInputs give


def decode_on(device: torch.device, encoded: List[torch.Tensor],
              paths: List[str]) -> List[Optional[torch.Tensor]]:
    """Decode JPEG bytes (1-D uint8 CPU tensors) to ``[3, H, W]`` uint8 RGB on
    ``device``, as one batch; if that fails, one by one (``None`` for each failure,
    logged naming its path)."""
    from torchvision.io import ImageReadMode, decode_jpeg
    if not encoded:
        return []
    try:
        return list(decode_jpeg(encoded, mode=ImageReadMode.RGB, device=device))
    except RuntimeError:
        pass
    decoded: List[Optional[torch.Tensor]] = []
    for data, path in zip(encoded, paths):
        try:
            decoded.append(decode_jpeg(data, mode=ImageReadMode.RGB, device=device))
        except RuntimeError as exc:
            print_log(f'GPUDecodePreprocessor: skipped {path}: cannot decode on {device} '
                      f'({exc})', logger='current', level=logging.WARNING)
            decoded.append(None)
    return decoded


def decode_batch(inputs: List[torch.Tensor], samples: List[DataSample],
                 device: torch.device) -> Tuple[torch.Tensor, List[DataSample]]:
    """:class:`PackBytes` outputs -> ``([B', 3, h, w] uint8 BGR, samples kept)``."""
    is_encoded = [x.dim() == 1 for x in inputs]
    encoded = [x.cpu() for x, e in zip(inputs, is_encoded) if e]
    paths = [s.get('img_path', '?') for s, e in zip(samples, is_encoded) if e]
    decoded = iter(decode_on(device, encoded, paths))
    images, kept = [], []
    for x, e, sample in zip(inputs, is_encoded, samples):
        rgb = next(decoded) if e else x.to(device, non_blocking=True)
        if rgb is None:
            continue
        images.append(crop_resize_flip(rgb, sample.crop_params, sample.img_shape[:2],
                                       bool(sample.get('flip', False))))
        kept.append(sample)
    if not images:
        raise RuntimeError('GPUDecodePreprocessor: no image of the batch could be decoded')
    return torch.stack(images), kept


@MODELS.register_module()
class GPUDecodePreprocessor(ImgDataPreprocessor):
    """mmengine's ``ImgDataPreprocessor`` that first decodes, crops, resizes and flips
    batches packed by :class:`PackBytes` on its device; other batches (validation's
    ``PackInputs``) pass as before. Same arguments as ``ImgDataPreprocessor``."""

    def forward(self, data: dict, training: bool = False) -> dict:
        samples = data.get('data_samples')
        if samples and 'crop_params' in samples[0]:
            images, kept = decode_batch(list(data['inputs']), list(samples),
                                        torch.device(self._device))
            data = dict(data, inputs=images, data_samples=kept)
        return super().forward(data, training)
