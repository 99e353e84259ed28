"""LocalMIM's per-tap decoder: one small MAE-style decoder per encoder level."""
from typing import Optional

import torch
from mmengine.model import BaseModule
from mmpretrain.models.utils import LayerNorm2d
from torch import nn

from mmmim.registry import MODELS

from ..encoders.compaction import to_visible_rows
from ..structures import EncoderOutput, MaskSet
from ..utils import init_linear_and_norm
from .mae_decoder import MAEDecoder


def rescale_head(scale: float, dims: int, out_channels: int) -> nn.Sequential:
    """LocalMIM's ViT heads on a ``[B, dims, h, w]`` map -> ``[B, out, s*h, s*w]``:
    x4 two stride-2 transposed convs (channels-first LayerNorm + GELU between),
    x2 one, x1 none, x0.5 a 2x2 average pool; then a 1x1 conv predictor."""
    half, quarter = dims // 2, dims // 4
    if scale == 4:
        layers = [nn.ConvTranspose2d(dims, half, 2, 2), LayerNorm2d(half), nn.GELU(),
                  nn.ConvTranspose2d(half, quarter, 2, 2)]
        width = quarter
    elif scale == 2:
        layers, width = [nn.ConvTranspose2d(dims, half, 2, 2)], half
    elif scale == 1:
        layers, width = [], dims
    elif scale == 0.5:
        layers, width = [nn.AvgPool2d(2, 2)], dims
    else:
        raise ValueError(f'scale must be one of 4, 2, 1, 0.5, got {scale}')
    return nn.Sequential(*layers, nn.Conv2d(width, out_channels, 1))


@MODELS.register_module()
class LocalMIMDecoder(BaseModule):
    """One LocalMIM level: tap tokens -> predictions on the level's target grid.

    ``tap norm (LayerNorm) -> [Linear + PixelShuffle for compact tokens coarser
    than the units] -> MAE's decoder`` (Linear to ``dims``, its own mask token
    filling masked places, fixed 2D sin-cos positions, class token kept, ``depth``
    blocks, LayerNorm) ``-> head``:

    * ``scale`` given (ViT): the token map is rescaled by transposed convs /
      identity / average pooling and predicted by a 1x1 conv (:func:`rescale_head`);
    * ``scale=None`` (pyramid stage decoder): a Linear head per token.

    The tap's tokens reach MAE's decoder as the visible units' tokens over the full
    token grid, whatever the encoder's layout (:func:`to_visible_rows`). Compact
    tokens with ``upsample = u > 1`` are first expanded ``u`` times per side; when
    that gives one token per 2x2 window, the output is on the window grid, where
    every window has a visible unit (no mask token is used there).

    Args:
        in_dims: tap width.
        dims, depth, num_heads, mlp_ratio: the decoder transformer.
        out_channels: target features per cell (3 x nbins for HOG).
        scale: rescale of the token map (4, 2, 1, 0.5) or None for a Linear head.
        in_norm: LayerNorm the tap first (False when the tap is the encoder's
            normed output).
        upsample: compact layout only: expansion of the tokens per side.
        with_cp: activation checkpointing of the decoder blocks.
    """

    def __init__(self, in_dims: int = 768, dims: int = 256, depth: int = 1,
                 num_heads: int = 8, mlp_ratio: float = 4., out_channels: int = 27,
                 scale: Optional[float] = 1, in_norm: bool = True, upsample: int = 1,
                 with_cp: bool = False, init_cfg=None) -> None:
        super().__init__(init_cfg)
        self.upsample, self.scale = upsample, scale
        self.in_norm = nn.LayerNorm(in_dims, eps=1e-6) if in_norm else nn.Identity()
        self.expand = nn.Linear(in_dims, upsample**2 * dims) if upsample > 1 else None
        self.mae = MAEDecoder(in_dims=in_dims if self.expand is None else dims, dims=dims,
                              depth=depth, num_heads=num_heads, mlp_ratio=mlp_ratio,
                              predictor_dims=out_channels if scale is None else 0,
                              embed=self.expand is None, with_cp=with_cp)
        self.head = rescale_head(scale, dims, out_channels) if scale is not None else None

    def init_weights(self) -> None:
        super().init_weights()
        init_linear_and_norm(self)  # MAE's own init (mask token) ran via super()

    def forward(self, latent: EncoderOutput, masks: MaskSet) -> torch.Tensor:
        """-> predictions ``[B, L', out_channels]`` row-major over the output grid."""
        latent = EncoderOutput(tokens=self.in_norm(latent.tokens), hw=tuple(latent.hw),
                               num_extra_tokens=latent.num_extra_tokens, layout=latent.layout)
        if self.expand is not None:
            latent, masks = self.expand_compact(latent, masks)
        latent, masks = to_visible_rows(latent, masks)
        x = self.mae(latent, masks)                                 # [B, h*w, D or out]
        if self.head is None:
            return x
        h, w = masks.grid
        x = x.transpose(1, 2).reshape(x.shape[0], -1, h, w)         # [B, D, h, w]
        return self.head(x).flatten(2).transpose(1, 2)              # [B, L', out]

    def expand_compact(self, latent: EncoderOutput, masks: MaskSet):
        """Compact tokens ``[B, h*w, C]`` -> Linear + PixelShuffle (as UM-MAE's
        decoder) -> ``[B, u*h * u*w, dims]``, still compact; on the window grid
        (one token per 2x2 window) a full grid with nothing masked instead."""
        if latent.layout != 'compact':
            raise ValueError(f'upsample is for compact tokens, got the {latent.layout!r} layout')
        (h, w), b = latent.hw, latent.tokens.shape[0]
        x = self.expand(latent.tokens[:, latent.num_extra_tokens:])
        x = x.transpose(1, 2).reshape(b, -1, h, w)
        x = nn.functional.pixel_shuffle(x, self.upsample)           # [B, D, u*h, u*w]
        hw, tokens = tuple(x.shape[-2:]), x.flatten(2).transpose(1, 2)
        windows = (masks.grid[0] // 2, masks.grid[1] // 2)
        if hw != windows:
            return EncoderOutput(tokens, hw, layout='compact'), masks
        nothing = torch.zeros(b, hw[0] * hw[1], dtype=torch.bool, device=tokens.device)
        return (EncoderOutput(tokens, hw, layout='full_grid'),
                MaskSet(nothing, windows, 2 * masks.unit_size, num_masked=0))
