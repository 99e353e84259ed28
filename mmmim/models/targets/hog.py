"""Histograms of oriented gradients as reconstruction targets (LocalMIM's definition).

Per colour channel of the normalized image, in fp32:

1. gradients from a fixed 3x3 Sobel pair, reflect padding, optional frozen bias::

       Sx = [[1, 0, -1], [2, 0, -2], [1, 0, -1]]     Sy = Sx^T     (cross-correlation)

   (the official kernels, applied in separable form: flat regions give exact zeros);

2. magnitude ``m = sqrt(gx^2 + gy^2)``; unsigned orientation with hard binning
   ``bin = floor(atan2(gx, gy) / pi * nbins) mod nbins`` (the angle of the gradient
   measured from the image's vertical axis, as the LocalMIM/MaskFeat code; a
   horizontal edge lands in bin 0, a vertical edge in bin ``nbins // 2``);
3. per cell of k x k pixels: the average of ``m`` over the pixels of each bin;
4. L2 normalization of each cell's ``nbins`` values (per colour channel); no block
   normalization, no clipping.

Several cell sizes share steps 1-2 and a histogram at the gcd of the cell sizes.
"""
import math
from functools import reduce
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

from mmmim.registry import MODELS


def sobel(padded: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Sobel pair ``Sx = [1, 2, 1]^T [1, 0, -1]``, ``Sy = Sx^T`` (cross-correlation) on
    ``[..., H+2, W+2]`` -> ``gx, gy [..., H, W]``, in separable form: the central
    differences come first, so flat regions give exact zeros (no round-off that the
    L2 normalization would blow up to unit vectors)."""
    dx = padded[..., :, :-2] - padded[..., :, 2:]                  # [..., H+2, W]
    dy = padded[..., :-2, :] - padded[..., 2:, :]                  # [..., H, W+2]
    gx = dx[..., :-2, :] + 2 * dx[..., 1:-1, :] + dx[..., 2:, :]
    gy = dy[..., :, :-2] + 2 * dy[..., :, 1:-1] + dy[..., :, 2:]
    return gx, gy


@MODELS.register_module()
class HOGTarget(nn.Module):
    """HOG features per cell, laid out like a decoder's output grid.

    Scale ``'cell{k}'`` of images ``[B, C, H, W]`` is ``[B, (H/k)*(W/k), C*nbins]``,
    row-major over the k-pixel cell grid, features ordered (channel, bin). The mask
    is resampled to each scale's grid (:meth:`grid`): nearest-upsampled for cells
    smaller than the mask unit, averaged to fractional weights for larger ones.

    Interfaces:

    * single scale (``len(cell_sizes) == 1``) drops into :class:`MaskedImageModel`
      like :class:`PixelTarget`: ``forward(images) -> Tensor``, ``grid(image_hw)``;
    * multi scale (LocalMIM's multi-level decoders): ``names[i]`` is the scale of
      decoder ``i``; ``multi_scale(images) -> {name: Tensor}`` computes every scale
      from ONE gradient pass; ``grid(image_hw, names[i])``; ``dims(names[i])``
      (= ``out_dims``) features per cell.

    No parameters and nothing in the state dict: the Sobel pair is a fixed
    separable stencil (:func:`sobel`), and the optional bias a non-persistent buffer
    rebuilt from ``bias_seed`` (identically on every rank) at construction.

    Args:
        nbins: orientation bins over pi (9 for ViT-B; 18 for ViT-L / Swin).
        cell_sizes: cell side(s) in pixels, one per scale; repeats allowed (Swin's
            last two stages share the 32-px target).
        in_channels: image channels (feature width is ``in_channels * nbins``).
        sobel_bias_std: if set, a frozen random bias ~ N(0, std^2) is added to each
            Sobel output channel (LocalMIM's ViT-L / Swin option).
        bias_seed: seed of that bias.
        eps: floor of the L2 norm (cells without gradient stay zero).
    """

    def __init__(self, nbins: int = 9, cell_sizes: Union[int, Sequence[int]] = (16,),
                 in_channels: int = 3, sobel_bias_std: Optional[float] = None,
                 bias_seed: int = 0, eps: float = 1e-12) -> None:
        super().__init__()
        cell_sizes = (cell_sizes,) if isinstance(cell_sizes, int) else tuple(cell_sizes)
        if nbins < 1 or not cell_sizes or min(cell_sizes) < 1:
            raise ValueError(f'need nbins >= 1 and cell sizes >= 1, got {nbins}, {cell_sizes}')
        self.nbins = nbins
        self.cell_sizes = cell_sizes
        self.in_channels = in_channels
        self.eps = eps
        bias = None
        if sobel_bias_std:
            gen = torch.Generator().manual_seed(bias_seed)
            bias = torch.randn(2, in_channels, 1, 1, generator=gen) * sobel_bias_std
        # [2 (gx, gy), C, 1, 1] or None
        self.register_buffer('sobel_bias', bias, persistent=False)

    @property
    def names(self) -> Tuple[str, ...]:
        """Scale names aligned with ``cell_sizes`` (``'cell16'``...)."""
        return tuple(f'cell{k}' for k in self.cell_sizes)

    @property
    def out_dims(self) -> int:
        """Features per cell: ``in_channels * nbins``."""
        return self.in_channels * self.nbins

    def dims(self, name: Optional[str] = None) -> int:
        """Features per cell of scale ``name`` (the same for every scale)."""
        if name is not None:
            self._index(name)
        return self.out_dims

    def grid(self, image_hw, name: Optional[str] = None) -> Tuple[int, int]:
        """Cell grid of scale ``name`` (default: the only scale) for ``image_hw``."""
        k = self._cell_size(name)
        h, w = int(image_hw[0]), int(image_hw[1])
        if h % k or w % k:
            raise ValueError(f'image {h}x{w} is not divisible into {k}-pixel cells')
        return h // k, w // k

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Single-scale target ``[B, L, C*nbins]`` (see :meth:`multi_scale` otherwise)."""
        name = self.names[self._index(None)]
        return self.multi_scale(images)[name]

    @torch.no_grad()
    def multi_scale(self, images: torch.Tensor) -> Dict[str, torch.Tensor]:
        """``{name: [B, L_name, C*nbins]}`` for every scale, fp32, L2-normalized."""
        out = {}
        for name, hist in self.histograms(images).items():
            b, _, gh, gw = hist.shape
            hist = F.normalize(hist.view(b, -1, self.nbins, gh, gw), dim=2, eps=self.eps)
            out[name] = hist.flatten(1, 2).flatten(2).transpose(1, 2)  # [B, gh*gw, C*nbins]
        return out

    @torch.no_grad()
    def histograms(self, images: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Un-normalized cell histograms ``{name: [B, C*nbins, H/k, W/k]}`` (fp32)."""
        for name in self.names:
            self.grid(images.shape[-2:], name)  # divisibility check
        magnitude, bins = self.gradients(images)                   # [B, C, H, W] each
        base = reduce(math.gcd, self.cell_sizes)
        per_bin = [F.avg_pool2d(torch.where(bins == i, magnitude, 0.), base)
                   for i in range(self.nbins)]
        fine = torch.stack(per_bin, dim=2).flatten(1, 2)           # [B, C*nbins, H/g, W/g]
        return {f'cell{k}': F.avg_pool2d(fine, k // base) if k != base else fine
                for k in sorted(set(self.cell_sizes))}

    @torch.no_grad()
    def gradients(self, images: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """images ``[B, C, H, W]`` -> (magnitude fp32, orientation bin long), each
        ``[B, C, H, W]``."""
        if images.shape[1] != self.in_channels:
            raise ValueError(f'expected {self.in_channels} channels, got {images.shape[1]}')
        with torch.autocast(device_type=images.device.type, enabled=False):
            x = F.pad(images.float(), (1, 1, 1, 1), mode='reflect')   # [B, C, H+2, W+2]
            gx, gy = sobel(x)
            if self.sobel_bias is not None:
                gx, gy = gx + self.sobel_bias[0], gy + self.sobel_bias[1]
            angle = torch.atan2(gx, gy)                            # [-pi, pi]
            bins = torch.floor(angle / math.pi * self.nbins).long() % self.nbins
            return torch.hypot(gx, gy), bins

    def _index(self, name: Optional[str]) -> int:
        if name is None:
            if len(set(self.cell_sizes)) > 1:
                raise ValueError(f'HOGTarget has scales {self.names}: name one, or use '
                                 'multi_scale() for all of them')
            return 0
        if name not in self.names:
            raise KeyError(f'unknown HOG scale {name!r}; scales: {self.names}')
        return self.names.index(name)

    def _cell_size(self, name: Optional[str]) -> int:
        return self.cell_sizes[self._index(name)]

    def extra_repr(self) -> str:
        return (f'nbins={self.nbins}, cell_sizes={self.cell_sizes}, '
                f'bias={self.sobel_bias is not None}')
