"""Data passed between the slots of a masked image model.

One mask convention everywhere: ``mask`` is a bool tensor ``[B, L]`` over the grid of
mask units (row-major, ``L = grid_h * grid_w``), **True = masked** (removed from the
encoder and reconstructed). Everything else derives from it.
"""
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

import torch

from .utils import resample_mask


@dataclass
class MaskSet:
    """Masks drawn for one batch.

    Attributes:
        mask: bool ``[B, L]``, True = masked (primary mask; the loss covers these).
        grid: ``(grid_h, grid_w)`` of the mask-unit grid, ``L = grid_h * grid_w``.
        unit_size: side of one mask unit in input pixels.
        secondary: optional bool ``[B, L]``, True = visible unit whose content the
            encoder replaces by a learnable token (UM-MAE's secondary masking).
            Always a subset of ``~mask``; never in the loss.
        num_masked: the number of True per row of ``mask`` when every row has the
            same, known one (maskers drawing a fixed count set it), else None. With
            it, gathers of the visible rows have a static shape (no data-dependent
            boolean index: no sync, no torch.compile graph break).
    """
    mask: torch.Tensor
    grid: Tuple[int, int]
    unit_size: int
    secondary: Optional[torch.Tensor] = None
    num_masked: Optional[int] = None

    @property
    def visible(self) -> torch.Tensor:
        """bool ``[B, L]``: units the encoder sees (secondary ones included)."""
        return ~self.mask

    @property
    def num_visible(self) -> Optional[int]:
        """Visible units per row (``L - num_masked``), or None when not known."""
        if self.num_masked is None:
            return None
        return self.grid[0] * self.grid[1] - self.num_masked

    def on_grid(self, hw: Tuple[int, int]) -> 'MaskSet':
        """The unit mask on a token grid ``hw`` as fine as the units or finer (each
        token inside one unit): bool ``[B, h*w]``, True = token of a masked unit;
        ``num_masked`` scaled with it. Raises for a coarser grid."""
        (gh, gw), (h, w) = self.grid, hw
        if h < gh or w < gw:
            raise ValueError(f'a {h}x{w} token map is coarser than the {gh}x{gw} unit '
                             'grid: tokens mix units')
        scale = (h // gh) * (w // gw)
        num_masked = None if self.num_masked is None else self.num_masked * scale
        return MaskSet(mask=resample_mask(self.mask, self.grid, hw), grid=(h, w),
                       unit_size=self.unit_size * gh // h, num_masked=num_masked)


#: How an encoder lays out its spatial tokens (:attr:`EncoderOutput.layout`).
LAYOUTS = ('visible', 'full_grid', 'compact')


@dataclass
class EncoderOutput:
    """What an encoder hands to the decoder(s).

    Attributes:
        tokens: ``[B, N, C]`` final (normed) tokens. For columnar encoders N is
            ``num_extra_tokens + visible units``; for pyramid encoders the last
            stage's ``h * w`` tokens.
        hw: spatial size of ``tokens`` (tokens beyond the extra ones).
        num_extra_tokens: leading non-spatial tokens (class token) in ``tokens``.
        taps: named intermediate outputs (``'block3'``, ``'stage1'``...), each
            ``[B, N_i, C_i]``, for multi-level decoders.
        tap_hw: spatial size of each tap.
        layout: where the spatial tokens (of ``tokens`` and of every tap) sit:

            - ``'visible'``: ``hw`` is the whole token grid and the tokens are those
              of its visible units only, in ascending row-major order (MAE's ViT);
            - ``'full_grid'``: every token of ``hw``, masked units holding a mask
              token (SimMIM-style pyramids);
            - ``'compact'``: ``hw`` is UM-MAE's compact map, half the side of the
              full grid: token ``(r, c)`` holds the visible unit of 2x2 window
              ``(r, c)`` at that resolution, inner layout intact
              (:mod:`~mmmim.models.encoders.compaction`).

            :func:`~mmmim.models.encoders.compaction.to_visible_rows` turns any of
            them into ``'visible'``.
    """
    tokens: torch.Tensor
    hw: Tuple[int, int]
    num_extra_tokens: int = 0
    taps: Dict[str, torch.Tensor] = field(default_factory=dict)
    tap_hw: Dict[str, Tuple[int, int]] = field(default_factory=dict)
    layout: str = 'visible'
