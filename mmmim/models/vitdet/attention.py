"""ViTDet's attention: windows of a token map and decomposed relative positions.

Token maps are channels-last ``[B, H, W, C]`` throughout, as in ViTDet: a block
partitions its (normed) map into non-overlapping ``window x window`` tiles
(zero-padded at the bottom / right), attends inside each tile and puts the tiles
back; a global block attends over the whole map.

Relative positions are decomposed (MViTv2 / ViTDet): the bias between query ``(i, j)``
and key ``(k, l)`` is ``q . R_h[i - k] + q . R_w[j - l]``, with one table per axis of
``2 * size - 1`` offsets x head width, linearly resampled when the map is of another
size than the table was built for.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn


def window_partition(x: torch.Tensor, window: int) -> Tuple[torch.Tensor, Tuple[int, int]]:
    """``[B, H, W, C]`` -> ``[B * nH * nW, window, window, C]`` tiles, row-major per
    image, after zero-padding H and W up to multiples of ``window``.

    Returns:
        (tiles, padded (H', W')).
    """
    b, h, w, c = x.shape
    pad_h, pad_w = (-h) % window, (-w) % window
    if pad_h or pad_w:
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
    hp, wp = h + pad_h, w + pad_w
    x = x.view(b, hp // window, window, wp // window, window, c)
    tiles = x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window, window, c)
    return tiles, (hp, wp)


def window_unpartition(tiles: torch.Tensor, window: int, padded_hw: Tuple[int, int],
                       hw: Tuple[int, int]) -> torch.Tensor:
    """Inverse of :func:`window_partition`: tiles -> ``[B, H, W, C]`` (padding cut)."""
    (hp, wp), (h, w) = padded_hw, hw
    b = tiles.shape[0] // ((hp // window) * (wp // window))
    x = tiles.view(b, hp // window, wp // window, window, window, -1)
    x = x.permute(0, 1, 3, 2, 4, 5).reshape(b, hp, wp, -1)
    return x[:, :h, :w].contiguous()


def relative_positions(q_size: int, k_size: int, table: torch.Tensor) -> torch.Tensor:
    """Embeddings of every query-key offset along one axis, ``[q_size, k_size, D]``.

    Args:
        table: ``[2 * S - 1, D]`` for offsets ``-(S-1) .. S-1``; linearly resampled to
            ``2 * max(q_size, k_size) - 1`` entries when S differs.
    """
    span = 2 * max(q_size, k_size) - 1
    if table.shape[0] != span:
        table = F.interpolate(table.T[None], size=span, mode='linear')[0].T
    # offsets scaled to the longer axis when query and key sizes differ
    q_coords = torch.arange(q_size, device=table.device)[:, None] * max(k_size / q_size, 1.)
    k_coords = torch.arange(k_size, device=table.device)[None, :] * max(q_size / k_size, 1.)
    offsets = q_coords - k_coords + (k_size - 1) * max(q_size / k_size, 1.)
    return table[offsets.long()]


def decomposed_rel_pos_bias(q: torch.Tensor, hw: Tuple[int, int], table_h: torch.Tensor,
                            table_w: torch.Tensor) -> torch.Tensor:
    """Attention bias ``[B, heads, h*w, h*w]`` from queries ``[B, heads, h*w, D]``
    (unscaled, as ViTDet) on an ``h x w`` map, keys on the same map."""
    h, w = hw
    b, heads, _, dims = q.shape
    rel_h = relative_positions(h, h, table_h)                    # [h, h, D]
    rel_w = relative_positions(w, w, table_w)                    # [w, w, D]
    grid_q = q.reshape(b, heads, h, w, dims)
    bias_h = torch.einsum('bnhwd,hkd->bnhwk', grid_q, rel_h)     # [B, n, h, w, h]
    bias_w = torch.einsum('bnhwd,wkd->bnhwk', grid_q, rel_w)     # [B, n, h, w, w]
    bias = bias_h[..., :, None] + bias_w[..., None, :]           # [B, n, h, w, h, w]
    return bias.reshape(b, heads, h * w, h * w)


class RelPosAttention(BaseModule):
    """Multi-head self-attention over a ``[B, h, w, C]`` map, with optional decomposed
    relative positions. Parameters ``qkv``, ``proj`` as mmpretrain's
    ``MultiheadAttention`` (so ViT checkpoints load), plus ``rel_pos_h`` /
    ``rel_pos_w`` ``[2 * rel_pos_size - 1, C / heads]``, zero-initialized: with zero
    tables the block is plain attention.

    Args:
        embed_dims: C.
        num_heads: attention heads.
        rel_pos_size: map side the tables are built for (the window, or the global
            patch grid); None: no relative positions.
        qkv_bias: bias in ``qkv``.
        attn_drop: dropout on attention weights (training only).
    """

    def __init__(self, embed_dims: int, num_heads: int, rel_pos_size: Optional[int] = None,
                 qkv_bias: bool = True, attn_drop: float = 0., init_cfg=None) -> None:
        super().__init__(init_cfg)
        if embed_dims % num_heads:
            raise ValueError(f'embed_dims {embed_dims} is not divisible by '
                             f'num_heads {num_heads}')
        self.num_heads = num_heads
        self.head_dims = embed_dims // num_heads
        self.attn_drop = attn_drop
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.use_rel_pos = rel_pos_size is not None
        if self.use_rel_pos:
            self.rel_pos_h = nn.Parameter(torch.zeros(2 * rel_pos_size - 1, self.head_dims))
            self.rel_pos_w = nn.Parameter(torch.zeros(2 * rel_pos_size - 1, self.head_dims))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, h, w, C]`` -> ``[B, h, w, C]``."""
        b, h, w, c = x.shape
        qkv = self.qkv(x).reshape(b, h * w, 3, self.num_heads, self.head_dims)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)                     # each [B, n, h*w, D]
        bias = (decomposed_rel_pos_bias(q, (h, w), self.rel_pos_h, self.rel_pos_w)
                if self.use_rel_pos else None)
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=None if bias is None else bias.to(q.dtype),
            dropout_p=self.attn_drop if self.training else 0.)   # [B, n, h*w, D]
        out = out.transpose(1, 2).reshape(b, h, w, c)
        return self.proj(out)
