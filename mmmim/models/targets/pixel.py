"""Pixel reconstruction targets."""
import torch
from torch import nn

from mmmim.registry import MODELS

from ..utils import patchify


def build_filters(filters) -> nn.ModuleList:
    """Image filters given as dicts or modules (e.g. PixMIM's low-pass)."""
    return nn.ModuleList(f if isinstance(f, nn.Module) else MODELS.build(f) for f in filters)


def apply_filters(filters: nn.ModuleList, images: torch.Tensor) -> torch.Tensor:
    """``[B, C, H, W]`` -> the same after every filter in turn, fp32, autocast off."""
    with torch.autocast(device_type=images.device.type, enabled=False):
        x = images.float()
        for image_filter in filters:
            x = image_filter(x)
        return x


def bind_filter_normalization(filters: nn.ModuleList, mean, std) -> None:
    """Hand the preprocessor's ``mean``/``std`` to every filter that undoes the
    normalization (e.g. :class:`LowPassFilter`); a no-op without such filters."""
    for image_filter in filters:
        if hasattr(image_filter, 'bind_normalization'):
            image_filter.bind_normalization(mean, std)


def normalize_per_patch(patches: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """``[..., D]`` -> each row shifted to zero mean and scaled to unit variance
    (unbiased variance + eps, as MAE)."""
    mean = patches.mean(dim=-1, keepdim=True)
    var = patches.var(dim=-1, keepdim=True)
    return (patches - mean) / (var + eps).sqrt()


@MODELS.register_module()
class PixelTarget(nn.Module):
    """Per-unit pixels, optionally normalized per unit (MAE's norm-pix target).

    images ``[B, C, H, W]`` (the preprocessor's normalized space) ->
    ``[B, (H/p)*(W/p), p*p*C]``, row-major over the unit grid, each unit flattened
    as (p, p, C). Computed in fp32 whatever the autocast state. The loss resamples
    the mask to this grid (one unit per row; no resampling when ``patch_size``
    equals the masker's unit size; nearest-upsampled when it is finer, averaged to
    fractional weights when coarser). Filters run first, on the whole image.

    Args:
        patch_size: side of one target unit in pixels.
        normalize: per-unit mean/variance normalization (``eps`` 1e-6).
        filters: optional image filters applied first (dicts or modules), e.g.
            PixMIM's low-pass filter.
    """

    def __init__(self, patch_size: int = 16, normalize: bool = True, eps: float = 1e-6,
                 filters=()) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.normalize = normalize
        self.eps = eps
        self.filters = build_filters(filters)

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        patches = patchify(apply_filters(self.filters, images), self.patch_size)
        return normalize_per_patch(patches, self.eps) if self.normalize else patches

    def bind_normalization(self, mean, std) -> None:
        """Hand the preprocessor's ``mean``/``std`` to every filter that undoes the
        normalization (e.g. :class:`LowPassFilter`); a no-op without such filters."""
        bind_filter_normalization(self.filters, mean, std)

    def grid(self, image_hw) -> tuple:
        """Target grid for an input of ``image_hw``."""
        return image_hw[0] // self.patch_size, image_hw[1] // self.patch_size
