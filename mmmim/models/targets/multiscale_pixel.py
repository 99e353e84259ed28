"""Per-patch (normalized) pixels at several patch sizes: LocalMIM's Swin-Pixel target."""
from typing import Dict, Optional, Sequence, Tuple

import torch
from torch import nn

from mmmim.registry import MODELS

from .pixel import PixelTarget, apply_filters, bind_filter_normalization, build_filters


@MODELS.register_module()
class MultiScalePixelTarget(nn.Module):
    """:class:`PixelTarget` at several patch sizes, with :class:`HOGTarget`'s
    multi-scale interface: ``names`` (``'pix{k}'``, one per scale, repeats
    allowed), ``multi_scale(images) -> {name: [B, (H/k)*(W/k), k*k*C]}``,
    ``grid(image_hw, name)`` and ``dims(name)``.

    ``filters`` (e.g. PixMIM's :class:`LowPassFilter`) run once on the whole image,
    before every scale is patchified: LocalMIM-Pixel with PixMIM's target.

    Args:
        patch_sizes: patch side per scale (LocalMIM's Swin: 8, 16, 32, 32).
        normalize: per-patch mean/variance normalization.
        in_channels: image channels.
        filters: image filters (dicts or modules) applied first, once per batch.
    """

    def __init__(self, patch_sizes: Sequence[int] = (8, 16, 32, 32), normalize: bool = True,
                 in_channels: int = 3, filters=()) -> None:
        super().__init__()
        self.patch_sizes = tuple(patch_sizes)
        self.in_channels = in_channels
        self.filters = build_filters(filters)
        self.scales = nn.ModuleDict({
            f'pix{k}': PixelTarget(patch_size=k, normalize=normalize)
            for k in sorted(set(self.patch_sizes))})

    @property
    def names(self) -> Tuple[str, ...]:
        return tuple(f'pix{k}' for k in self.patch_sizes)

    def dims(self, name: str) -> int:
        """Features per cell of scale ``name``: ``k * k * in_channels``."""
        return self.scales[name].patch_size**2 * self.in_channels

    def grid(self, image_hw, name: Optional[str] = None) -> Tuple[int, int]:
        if name is None:
            if len(self.scales) > 1:
                raise ValueError(f'scales {self.names}: name one')
            name = self.names[0]
        return tuple(self.scales[name].grid(image_hw))

    def bind_normalization(self, mean, std) -> None:
        """Hand the preprocessor's ``mean``/``std`` to the filters that need them."""
        bind_filter_normalization(self.filters, mean, std)

    @torch.no_grad()
    def multi_scale(self, images: torch.Tensor) -> Dict[str, torch.Tensor]:
        """``{name: [B, (H/k)*(W/k), k*k*C]}``, the filters applied once first."""
        filtered = apply_filters(self.filters, images)
        return {name: scale(filtered) for name, scale in self.scales.items()}

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Single-scale target (only when there is one scale)."""
        if len(self.scales) > 1:
            raise ValueError(f'scales {self.names}: use multi_scale()')
        return self.multi_scale(images)[self.names[0]]
