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

    :attr:`visible_rows` and :attr:`masked_rows` (the units' indices, for
    :func:`~mmmim.models.utils.gather_rows` / ``scatter_rows``) are derived once per
    MaskSet, by one sort, and shared by every consumer; :meth:`on_grid` maps them.
    """
    mask: torch.Tensor
    grid: Tuple[int, int]
    unit_size: int
    secondary: Optional[torch.Tensor] = None
    num_masked: Optional[int] = None
    _rows: Optional[Tuple[torch.Tensor, torch.Tensor]] = field(default=None, repr=False,
                                                                compare=False)

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

    @property
    def visible_rows(self) -> torch.Tensor:
        """long ``[B, K]``: the visible units' indices, ascending."""
        return self.rows()[0]

    @property
    def masked_rows(self) -> torch.Tensor:
        """long ``[B, M]``: the masked units' indices, ascending."""
        return self.rows()[1]

    def rows(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(visible_rows, masked_rows)``, computed on first use: one stable sort
        of the mask (visible units first) split at ``num_visible``; without a known
        count, the True places of each row (a data-dependent shape)."""
        if self._rows is None:
            if self.num_masked is None:
                b = self.mask.shape[0]
                self._rows = (self.visible.nonzero()[:, 1].view(b, -1),
                              self.mask.nonzero()[:, 1].view(b, -1))
            else:
                order = self.mask.to(torch.uint8).argsort(dim=1, stable=True)
                self._rows = (order[:, :self.num_visible], order[:, self.num_visible:])
        return self._rows

    def on_grid(self, hw: Tuple[int, int]) -> 'MaskSet':
        """The unit mask on a token grid ``hw`` as fine as the units or finer (each
        token inside one unit): bool ``[B, h*w]``, True = token of a masked unit;
        ``num_masked`` scaled with it, the rows mapped (no new sort). The same grid
        gives this MaskSet. Raises for a coarser grid."""
        (gh, gw), (h, w) = self.grid, tuple(hw)
        if (h, w) == (gh, gw):
            return self
        if h < gh or w < gw:
            raise ValueError(f'a {h}x{w} token map is coarser than the {gh}x{gw} unit '
                             'grid: tokens mix units')
        scale = (h // gh) * (w // gw)
        num_masked = None if self.num_masked is None else self.num_masked * scale
        rows = tuple(rows_on_finer_grid(r, self.grid, (h, w)) for r in self.rows())
        return MaskSet(mask=resample_mask(self.mask, self.grid, (h, w)), grid=(h, w),
                       unit_size=self.unit_size * gh // h, num_masked=num_masked, _rows=rows)


def rows_on_finer_grid(rows: torch.Tensor, grid: Tuple[int, int],
                       hw: Tuple[int, int]) -> torch.Tensor:
    """Units' indices ``[B, K]`` (ascending, row-major over ``grid``) -> the indices
    of their tokens on a finer grid ``hw`` (``s_h x s_w`` tokens per unit),
    ascending: ``[B, K * s_h * s_w]``. No sort: a unit in unit row ``r`` with ``n``
    units of that row among ``rows``, ``f`` units of earlier rows before it and ``p``
    before it in its row, has token ``(i, j)`` at place
    ``f*s_h*s_w + i*n*s_w + p*s_w + j``."""
    (gh, gw), (h, w) = grid, hw
    sh, sw = h // gh, w // gw
    unit_row, unit_col = rows // gw, rows % gw                              # [B, K]
    per_row = torch.zeros(rows.shape[0], gh, dtype=rows.dtype, device=rows.device)
    per_row = per_row.scatter_add(1, unit_row, torch.ones_like(rows))       # [B, gh]
    earlier = (per_row.cumsum(1) - per_row).gather(1, unit_row)[..., None, None]
    in_row = per_row.gather(1, unit_row)[..., None, None]
    before_in_row = torch.arange(rows.shape[1], device=rows.device)[:, None, None] - earlier
    i = torch.arange(sh, device=rows.device)[:, None]
    j = torch.arange(sw, device=rows.device)[None]
    place = (earlier * sh * sw + i * in_row * sw + before_in_row * sw + j).flatten(1)
    token = ((unit_row[..., None, None] * sh + i) * w + unit_col[..., None, None] * sw
             + j).flatten(1)                                                 # [B, K*sh*sw]
    return torch.empty_like(token).scatter(1, place, token)


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
