"""Uniform-masking compaction: pack each 2x2 window's visible unit into one slot.

A uniform mask (:class:`~mmmim.models.maskers.UniformMasker`) keeps exactly one
mask unit per non-overlapping 2x2 window of the unit grid. Moving each window's
visible unit into the window's slot gives a dense map of half the side with the
visible content, inner layout of every unit intact. Any map that tiles into the
unit grid (the image, a token map, a position map) compacts the same way, so
compacting the image then patch-embedding it equals patch-embedding then
compacting the token map whenever the patch embedding does not overlap units.
:func:`to_visible_rows` is the inverse a decoder needs: each compact token back to
its place among the visible tokens of the full grid.
"""
from typing import Tuple

import torch
import torch.nn.functional as F

from ..structures import LAYOUTS, EncoderOutput, MaskSet
from ..utils import check_all, gather_rows

__all__ = ['window_choice', 'compact_map', 'compact_units', 'compact_pos_embed',
           'compact_index', 'to_visible_rows']


def window_choice(visible: torch.Tensor, grid: Tuple[int, int]) -> torch.Tensor:
    """visible bool ``[B, gh*gw]`` with one True per 2x2 window -> long
    ``[B, gh/2, gw/2]``: which unit of each window is visible (0..3, row-major in
    the window). Raises if the mask is not uniform (on CUDA a device-side
    assertion, see :func:`~mmmim.models.utils.check_all`)."""
    gh, gw = grid
    if gh % 2 or gw % 2:
        raise ValueError(f'uniform masking needs an even unit grid, got {gh}x{gw}')
    b = visible.shape[0]
    windows = visible.view(b, gh // 2, 2, gw // 2, 2).permute(0, 1, 3, 2, 4)
    windows = windows.reshape(b, gh // 2, gw // 2, 4)
    check_all(windows.sum(-1) == 1, 'compaction needs exactly one visible unit per 2x2 '
              'window (a uniform mask); use masking="mask_token" for other masks')
    return windows.float().argmax(-1)


def compact_map(x: torch.Tensor, choice: torch.Tensor) -> torch.Tensor:
    """x ``[B or 1, C, H, W]`` tiling into the unit grid of ``choice``
    (``[B, gh/2, gw/2]``) -> ``[B, C, H/2, W/2]``: each window's visible unit moved
    into its window's slot. A unit spans ``H / gh`` rows of ``x``."""
    b, (wh, ww) = choice.shape[0], choice.shape[1:]
    c, h, w = x.shape[1:]
    uh, uw = h // (2 * wh), w // (2 * ww)
    if uh * 2 * wh != h or uw * 2 * ww != w:
        raise ValueError(f'a {h}x{w} map does not tile into {2 * wh}x{2 * ww} units')
    # [B, C, wh, 2, uh, ww, 2, uw] -> [B, wh, ww, 4, C*uh*uw]
    units = x.reshape(x.shape[0], c, wh, 2, uh, ww, 2, uw).permute(0, 2, 5, 3, 6, 1, 4, 7)
    units = units.reshape(x.shape[0], wh, ww, 4, c * uh * uw).expand(b, -1, -1, -1, -1)
    index = choice[..., None, None].expand(-1, -1, -1, 1, c * uh * uw)
    picked = units.gather(3, index).view(b, wh, ww, c, uh, uw)  # [B, wh, ww, C, uh, uw]
    return picked.permute(0, 3, 1, 4, 2, 5).reshape(b, c, wh * uh, ww * uw)


def compact_units(mask: torch.Tensor, choice: torch.Tensor) -> torch.Tensor:
    """A per-unit ``[B, gh*gw]`` tensor (e.g. the secondary mask) -> its value at
    each window's visible unit, ``[B, (gh/2)*(gw/2)]`` row-major over windows."""
    b, wh, ww = choice.shape
    as_map = mask.view(b, 1, 2 * wh, 2 * ww)
    return compact_map(as_map, choice).flatten(1)


def compact_pos_embed(pos: torch.Tensor, choice: torch.Tensor,
                      out_hw: Tuple[int, int]) -> torch.Tensor:
    """A full-grid position map ``[1, C, H, W]`` -> ``[B, out_h*out_w, C]`` on the
    compact grid of ``out_hw``. Maps finer than the unit grid are compacted
    directly; coarser ones (a token spans several units) are repeated up to the
    unit grid first and the compact result averaged back down, so a compact token
    gets the mean position of the pixels it covers."""
    b, wh, ww = choice.shape
    up = max(1, (2 * wh) // pos.shape[-2])
    if up > 1:
        pos = pos.repeat_interleave(up, -2).repeat_interleave(up, -1)
    out = compact_map(pos, choice)
    if out.shape[-2:] != tuple(out_hw):
        out = F.adaptive_avg_pool2d(out, out_hw)
    return out.flatten(2).transpose(1, 2)


def compact_index(windows: Tuple[int, int], per_unit: int, device=None) -> torch.Tensor:
    """long ``[(2*wh*r) * (2*ww*r)]``: for each token of the full grid with ``r``
    tokens per unit side, the row-major index of the token in the compact map
    (``wh*r x ww*r``) that holds it when its unit is its window's visible one.
    With ``r = 1`` this is the unit's window index."""
    (wh, ww), r = windows, per_unit
    rows = torch.arange(2 * wh * r, device=device)
    cols = torch.arange(2 * ww * r, device=device)
    compact_rows = rows // (2 * r) * r + rows % r
    compact_cols = cols // (2 * r) * r + cols % r
    return (compact_rows[:, None] * (ww * r) + compact_cols[None]).flatten()


def to_visible_rows(latent: EncoderOutput, masks: MaskSet) -> Tuple[EncoderOutput, MaskSet]:
    """Tokens in any layout (:attr:`EncoderOutput.layout`) -> the same tokens in the
    ``'visible'`` layout and the mask on their grid: ``[B, extra + K, C]``, the
    tokens of the visible units in row-major order of the full token grid (``hw``
    for ``'visible'`` and ``'full_grid'``, twice the compact side for
    ``'compact'``), extra tokens kept in front. A compact map must give each unit
    a whole number of tokens per side (raises otherwise)."""
    if latent.layout not in LAYOUTS:
        raise ValueError(f'layout must be one of {LAYOUTS}, got {latent.layout!r}')
    if latent.layout == 'visible':
        return latent, masks.on_grid(latent.hw)
    extra, tokens = (latent.tokens[:, :latent.num_extra_tokens],
                     latent.tokens[:, latent.num_extra_tokens:])
    h, w = latent.hw
    if latent.layout == 'full_grid':
        on_grid = masks.on_grid((h, w))
        visible = gather_rows(tokens, on_grid.visible_rows)
    else:
        windows = (masks.grid[0] // 2, masks.grid[1] // 2)
        if h % windows[0] or w % windows[1] or h // windows[0] != w // windows[1]:
            raise ValueError(f'{h}x{w} compact tokens do not tile the {windows} windows '
                             '(tokens coarser than a unit need upsampling first)')
        on_grid = masks.on_grid((2 * h, 2 * w))
        index = compact_index(windows, h // windows[0], tokens.device)
        visible = gather_rows(tokens, index[on_grid.visible_rows])     # [B, K, C]
    if latent.num_extra_tokens:
        visible = torch.cat([extra, visible], 1)
    return EncoderOutput(visible, on_grid.grid, latent.num_extra_tokens), on_grid
