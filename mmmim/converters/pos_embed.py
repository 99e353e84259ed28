"""Resizing absolute position embeddings between patch grids (users.md item 7)."""
import math
from typing import Optional, Tuple

import torch
import torch.nn.functional as F

Grid = Tuple[int, int]


def square_grid(num_tokens: int) -> Grid:
    """The square grid holding ``num_tokens`` positions; raise if there is none."""
    side = math.isqrt(num_tokens)
    if side * side != num_tokens:
        raise ValueError(f'{num_tokens} position tokens do not form a square grid: '
                         'pass the source grid (h, w) explicitly')
    return side, side


def resize_abs_pos_embed(pos_embed: torch.Tensor, dst_grid: Grid,
                         src_grid: Optional[Grid] = None, num_extra_tokens: int = 1,
                         mode: str = 'bicubic') -> torch.Tensor:
    """Resample a ViT absolute position embedding to another patch grid.

    Args:
        pos_embed: ``[1, E + h*w, C]`` (E leading extra tokens such as the class
            token, kept unchanged), grid positions row-major.
        dst_grid: target ``(h', w')``; may be non-square.
        src_grid: source ``(h, w)``; inferred as square when omitted.
        num_extra_tokens: E.
        mode: ``F.interpolate`` mode (bicubic as MAE / BEiT / timm do).

    Returns:
        ``[1, E + h'*w', C]`` in the input dtype; the input itself when the grids agree.
    """
    if pos_embed.dim() != 3 or pos_embed.shape[0] != 1:
        raise ValueError(f'expected a [1, N, C] position embedding, got {tuple(pos_embed.shape)}')
    extra, grid_pos = pos_embed[:, :num_extra_tokens], pos_embed[:, num_extra_tokens:]
    src_grid = tuple(src_grid) if src_grid else square_grid(grid_pos.shape[1])
    dst_grid = tuple(dst_grid)
    if src_grid[0] * src_grid[1] != grid_pos.shape[1]:
        raise ValueError(f'source grid {src_grid} does not hold {grid_pos.shape[1]} positions')
    if src_grid == dst_grid:
        return pos_embed
    dims = grid_pos.shape[-1]
    image = grid_pos.reshape(1, *src_grid, dims).permute(0, 3, 1, 2).float()  # [1, C, h, w]
    image = F.interpolate(image, size=dst_grid, mode=mode, align_corners=False)
    grid_pos = image.permute(0, 2, 3, 1).reshape(1, -1, dims).to(pos_embed.dtype)
    return torch.cat([extra, grid_pos], dim=1)


def resize_rel_pos_bias_table(table: torch.Tensor, dst_window: Grid,
                              src_window: Optional[Grid] = None,
                              mode: str = 'bicubic') -> torch.Tensor:
    """Resample a Swin relative position bias table to another window size.

    Args:
        table: ``[(2*Wh-1) * (2*Ww-1), heads]``, offsets row-major.
        dst_window: target window ``(Wh', Ww')``.
        src_window: source window; inferred as square when omitted.

    Returns:
        ``[(2*Wh'-1) * (2*Ww'-1), heads]``; the input itself when the windows agree.
    """
    src_side = square_grid(table.shape[0]) if src_window is None else tuple(
        2 * w - 1 for w in src_window)
    dst_side = tuple(2 * w - 1 for w in dst_window)
    if tuple(src_side) == dst_side:
        return table
    heads = table.shape[1]
    image = table.T.reshape(1, heads, *src_side).float()
    image = F.interpolate(image, size=dst_side, mode=mode, align_corners=False)
    return image.reshape(heads, -1).T.contiguous().to(table.dtype)
