"""Position embeddings: the fixed 2D sin-cos table, and the one place that resizes
position embeddings and relative position tables.

Every load path goes through these functions: the converters (ViT ``pos_embed``, PVT
per-stage grids, Swin bias tables), :class:`~mmmim.converters.MIMPretrained` (through
the converters), our encoders' forward at another input size, and mmpretrain's own
load-time hooks (ViT / Swin ``_prepare_pos_embed``, Swin / BEiT
``_prepare_relative_position_bias_table``), which :mod:`mmmim.compat` routes here. So a
checkpoint resized by ``tools/convert.py``, by ``MIMPretrained`` or by mmpretrain's
``load_state_dict`` gives the same tensors (tests/test_models/test_pos_embed.py).

Absolute embeddings: bicubic (MAE / BEiT / timm / mmpretrain), any grids incl.
non-square, leading extra tokens (class token) kept; or ``mode='sincos'`` to
regenerate a fixed 2D sin-cos embedding for the new grid. Relative tables: bicubic over
the ``(2W-1) x (2W-1)`` offset grid, as the official Swin and mmdet / mmseg Swin resize
them (mmpretrain's own resize, BEiT's geometric resampling through SciPy's removed
``interp2d``, is replaced).
"""
import math
from functools import lru_cache
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


@lru_cache(maxsize=64)
def sincos_pos_embed(grid: Tuple[int, int], dims: int, temperature: float = 10000.,
                     device: Optional[torch.device] = None,
                     dtype: Optional[torch.dtype] = None) -> torch.Tensor:
    """Fixed 2D sin-cos position embedding ``[1, grid_h * grid_w, dims]``.

    Computed in float32 on the CPU; with ``device`` / ``dtype`` a copy there.
    Cached per (grid, dims, temperature, device, dtype), so a forward pass on a GPU
    copies the table to the device once, not in every step: callers must not
    modify the result in place.
    Row-major: entry ``r * grid_w + c`` encodes row ``r``, column ``c``; the first
    half of the channels encodes the column, the second half the row (MAE's layout).
    """
    if device is not None or dtype is not None:
        return sincos_pos_embed(grid, dims, temperature).to(device=device, dtype=dtype)
    if dims % 4:
        raise ValueError(f'sin-cos embedding needs dims divisible by 4, got {dims}')
    rows, cols = torch.meshgrid(torch.arange(grid[0], dtype=torch.float32),
                                torch.arange(grid[1], dtype=torch.float32), indexing='ij')
    omega = 1.0 / temperature**(torch.arange(dims // 4, dtype=torch.float32) / (dims // 4))

    def encode(coord: torch.Tensor) -> torch.Tensor:  # [L] -> [L, dims/2]
        angles = coord.flatten()[:, None] * omega[None]
        return torch.cat([angles.sin(), angles.cos()], dim=1)

    return torch.cat([encode(cols), encode(rows)], dim=1)[None]


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
        mode: ``F.interpolate`` mode (bicubic as MAE / BEiT / timm do), or
            ``'sincos'``: the grid positions are regenerated as the fixed 2D sin-cos
            embedding of ``dst_grid`` (for frozen sin-cos embeddings).

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
    if mode == 'sincos':
        grid_pos = sincos_pos_embed(dst_grid, dims).to(pos_embed)
        return torch.cat([extra, grid_pos], dim=1)
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


def resize_table_of_side(src_side: int, dst_side: int, table: torch.Tensor,
                         num_heads: int) -> torch.Tensor:
    """mmpretrain's ``resize_relative_position_bias_table(src_shape, dst_shape, table,
    num_head)`` signature (sides ``2W-1`` of the offset grid) over
    :func:`resize_rel_pos_bias_table`; what :mod:`mmmim.compat` installs in its place."""
    if table.shape != (src_side * src_side, num_heads):
        raise ValueError(f'relative position table {tuple(table.shape)} is not '
                         f'[{src_side}^2, {num_heads}]')
    window = (dst_side + 1) // 2
    return resize_rel_pos_bias_table(table, (window, window))
