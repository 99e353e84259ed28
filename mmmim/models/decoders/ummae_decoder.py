"""UM-MAE's decoder for pyramid encoders on the compact grid."""
from typing import Optional

import torch
from mmengine.model import BaseModule
from torch import nn

from mmmim.registry import MODELS

from ..encoders.compaction import to_visible_rows
from ..structures import EncoderOutput, MaskSet
from ..utils import init_linear_and_norm
from .mae_decoder import MAEDecoder


@MODELS.register_module()
class UMMAEDecoder(BaseModule):
    """Compact last-stage tokens -> one token per visible unit -> MAE's decoder.

    ``[B, h*w, C_enc]`` (h*w = a quarter of the 2x2 windows, e.g. 4x4 at 256 px)
    -> Linear to ``4 * dims`` -> PixelShuffle(2) -> ``[B, windows, dims]``, one
    token per window, a compact map with one token per unit -> reordered to the
    row-major order of the visible units over the full unit grid
    (:func:`to_visible_rows`, the order :class:`MAEDecoder` scatters in), so each
    visible token gets its own unit's position -> mask tokens, fixed
    sin-cos positions over the unit grid, ``depth`` blocks, Linear to
    ``unit_size**2 * out_channels`` per unit (a wrapped :class:`MAEDecoder` with
    its input Linear skipped).

    Args:
        in_dims: encoder width (last stage).
        dims, depth, num_heads, mlp_ratio, unit_size, out_channels, with_cp:
            MAEDecoder's.
    """

    #: ``forward(latent, masks, rows=...)`` predicts the given units alone
    predicts_rows = True

    def __init__(self, in_dims: int = 768, dims: int = 512, depth: int = 2,
                 num_heads: int = 16, mlp_ratio: float = 4., unit_size: int = 16,
                 out_channels: int = 3, with_cp: bool = False, init_cfg=None) -> None:
        super().__init__(init_cfg)
        self.expand = nn.Linear(in_dims, 4 * dims)
        self.shuffle = nn.PixelShuffle(2)
        self.mae = MAEDecoder(in_dims=dims, dims=dims, depth=depth, num_heads=num_heads,
                              mlp_ratio=mlp_ratio, unit_size=unit_size,
                              out_channels=out_channels, embed=False, with_cp=with_cp)

    def init_weights(self) -> None:
        super().init_weights()
        init_linear_and_norm(self.expand)

    def to_windows(self, latent: EncoderOutput, masks: MaskSet) -> EncoderOutput:
        """Compact tokens ``[B, h*w, C]`` -> ``[B, 2h*2w, dims]``: one token per 2x2
        window of the unit grid, a compact map with one token per unit."""
        (h, w), (gh, gw) = latent.hw, masks.grid
        if (2 * h, 2 * w) != (gh // 2, gw // 2):
            raise ValueError(f'{h}x{w} encoder tokens do not upsample 2x onto the '
                             f'{gh // 2}x{gw // 2} windows of a {gh}x{gw} unit grid')
        b = latent.tokens.shape[0]
        x = self.expand(latent.tokens[:, latent.num_extra_tokens:])   # [B, h*w, 4D]
        x = self.shuffle(x.transpose(1, 2).reshape(b, -1, h, w))     # [B, D, 2h, 2w]
        return EncoderOutput(x.flatten(2).transpose(1, 2), (2 * h, 2 * w), layout='compact')

    def forward(self, latent: EncoderOutput, masks: MaskSet,
                rows: Optional[torch.Tensor] = None) -> torch.Tensor:
        """-> predictions ``[B, L, unit_size**2 * out_channels]`` for every unit, or
        for the units of ``rows`` only (:meth:`MAEDecoder.forward`)."""
        visible, masks = to_visible_rows(self.to_windows(latent, masks), masks)
        return self.mae(visible, masks, rows)
