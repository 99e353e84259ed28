"""MAE's transformer decoder over the full unit grid."""
from functools import partial
from typing import Optional

import torch
from mmengine.model import BaseModule
from mmpretrain.models.backbones.vision_transformer import TransformerEncoderLayer
from torch import nn

from mmmim.registry import MODELS

from ..fast_blocks import encoder_layer_on_rows, use_fast_forward
from ..pos_embed import sincos_pos_embed
from ..structures import EncoderOutput, MaskSet
from ..utils import init_linear_and_norm, run_block, scatter_rows


@MODELS.register_module()
class MAEDecoder(BaseModule):
    """Visible tokens + mask tokens -> per-unit pixel predictions.

    ``[B, extra + K, C_enc]`` -> Linear to ``dims`` -> mask tokens fill the masked
    units (row-major, so each visible token lands on its own unit) -> fixed 2D
    sin-cos positions over the unit grid -> ``depth`` blocks -> LayerNorm ->
    Linear to ``unit_size**2 * out_channels`` per unit.

    Args:
        in_dims: encoder width.
        dims, depth, num_heads, mlp_ratio: decoder transformer.
        unit_size: side in pixels of the unit each output token predicts.
        out_channels: channels predicted per pixel.
        predictor_dims: output features per unit; default ``unit_size**2 * out_channels``;
            0: no predictor (the normed tokens, for a wrapping decoder's own head).
        embed: project the encoder tokens with a Linear; False (needs
            ``in_dims == dims``) when a wrapping decoder already did (UM-MAE).
        with_cp: activation checkpointing of every block (less memory).
    """

    #: ``forward(latent, masks, rows=...)`` predicts the given units alone
    predicts_rows = True

    def __init__(self, in_dims: int = 768, dims: int = 512, depth: int = 8,
                 num_heads: int = 16, mlp_ratio: float = 4., unit_size: int = 16,
                 out_channels: int = 3, predictor_dims: Optional[int] = None, embed: bool = True,
                 with_cp: bool = False, init_cfg=None) -> None:
        super().__init__(init_cfg)
        self.with_cp = with_cp
        if not embed and in_dims != dims:
            raise ValueError(f'embed=False needs in_dims == dims, got {in_dims} != {dims}')
        self.embed = nn.Linear(in_dims, dims) if embed else nn.Identity()
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dims))
        self.blocks = nn.ModuleList([
            TransformerEncoderLayer(dims, num_heads, int(mlp_ratio * dims), qkv_bias=True,
                                    norm_cfg=dict(type='LN', eps=1e-6))
            for _ in range(depth)])
        use_fast_forward(self.blocks)
        self.norm = nn.LayerNorm(dims, eps=1e-6)
        if predictor_dims is None:
            predictor_dims = unit_size**2 * out_channels
        self.predictor = nn.Linear(dims, predictor_dims) if predictor_dims else nn.Identity()

    def init_weights(self) -> None:
        super().init_weights()
        init_linear_and_norm(self)
        nn.init.normal_(self.mask_token, std=.02)

    def forward(self, latent: EncoderOutput, masks: MaskSet,
                rows: Optional[torch.Tensor] = None) -> torch.Tensor:
        """-> predictions ``[B, L, predictor_dims]`` for every unit of the grid; with
        ``rows`` (long ``[B, R]``, ascending unit indices, e.g. ``masks.masked_rows``)
        ``[B, R, predictor_dims]`` for those units only: the last block then
        computes only their rows (every unit is still a key and a value), so the
        other units' last-block queries and MLP, norm and predictor are skipped.
        The given units' predictions are the same either way."""
        x = self.embed(latent.tokens)                              # [B, extra + K, D]
        extra, visible = x[:, :latent.num_extra_tokens], x[:, latent.num_extra_tokens:]
        b, num_units = masks.mask.shape
        full = self.mask_token.to(x.dtype).expand(b, num_units, -1)
        full = scatter_rows(full, visible, masks.visible_rows)    # [B, L, D]
        full = full + sincos_pos_embed(masks.grid, x.shape[-1], device=x.device,
                                       dtype=x.dtype)             # cached on the device
        x = torch.cat([extra, full], dim=1)
        blocks = list(self.blocks)
        if rows is not None:
            blocks[-1] = partial(encoder_layer_on_rows, blocks[-1],
                                 rows=latent.num_extra_tokens + rows)  # -> [B, R, D]
        for block in blocks:
            x = run_block(block, x, with_cp=self.with_cp)
        pred = self.predictor(self.norm(x))
        return pred if rows is not None else pred[:, latent.num_extra_tokens:]
