"""LocalMIM's per-tap decoder: one small MAE-style decoder per encoder level."""
from typing import Optional, Tuple

import torch
from mmengine.model import BaseModule
from mmpretrain.models.utils import LayerNorm2d
from torch import nn

from mmmim.registry import MODELS

from ..structures import EncoderOutput, MaskSet
from ..utils import gather_rows, init_linear_and_norm, take_rows
from .mae_decoder import MAEDecoder

TOKEN_LAYOUTS = ('visible', 'full', 'compact')


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

    ``tap norm (LayerNorm) -> [compact: Linear + PixelShuffle when the tokens are
    coarser than the units] -> MAE's decoder`` (Linear to ``dims``, its own mask
    token filling masked places, fixed 2D sin-cos positions, class token kept,
    ``depth`` blocks, LayerNorm) ``-> head``:

    * ``scale`` given (ViT): the token map is rescaled by transposed convs /
      identity / average pooling and predicted by a 1x1 conv (:func:`rescale_head`);
    * ``scale=None`` (pyramid stage decoder): a Linear head per token.

    How the tap's tokens sit on the image (``token_layout``, derived from the
    encoder by :class:`MultiLevelMaskedImageModel`):

    * ``'visible'``: ``[B, extra + K, C]``, the visible tokens in row-major order
      (MAE's ViT encoder);
    * ``'full'``: ``[B, h*w, C]`` over the whole grid, masked units holding the
      encoder's mask token (SimMIM-style); the decoder keeps the visible tokens and
      replaces the masked ones by its own mask token, as for a sparse encoder;
    * ``'compact'``: ``[B, h*w, C]`` over UM-MAE's compact grid (one visible unit
      per 2x2 window). With ``r >= 1`` tokens per unit side, each token is
      scattered back to its place in its unit; with ``upsample = 1/r > 1`` tokens
      are first expanded to one per window, output on the window grid (every
      window has a visible unit, so no mask token is used there).

    Args:
        in_dims: tap width.
        dims, depth, num_heads, mlp_ratio: the decoder transformer.
        out_channels: target features per cell (3 x nbins for HOG).
        scale: rescale of the token map (4, 2, 1, 0.5) or None for a Linear head.
        in_norm: LayerNorm the tap first (False when the tap is the encoder's
            normed output).
        token_layout: 'visible', 'full' or 'compact' (see above).
        upsample: compact layout only: tokens per unit side is ``1 / upsample``.
        unit_size: accepted for the derived-dims protocol; unused.
        with_cp: activation checkpointing of the decoder blocks.
    """

    def __init__(self, in_dims: int = 768, dims: int = 256, depth: int = 1,
                 num_heads: int = 8, mlp_ratio: float = 4., out_channels: int = 27,
                 scale: Optional[float] = 1, in_norm: bool = True,
                 token_layout: str = 'visible', upsample: int = 1,
                 unit_size: Optional[int] = None, with_cp: bool = False,
                 init_cfg=None) -> None:
        super().__init__(init_cfg)
        if token_layout not in TOKEN_LAYOUTS:
            raise ValueError(f'token_layout must be one of {TOKEN_LAYOUTS}, got {token_layout!r}')
        if upsample > 1 and token_layout != 'compact':
            raise ValueError('upsample is for the compact layout only')
        self.token_layout, self.upsample, self.scale = token_layout, upsample, scale
        self.in_norm = nn.LayerNorm(in_dims, eps=1e-6) if in_norm else nn.Identity()
        self.expand = nn.Linear(in_dims, upsample**2 * dims) if upsample > 1 else None
        self.mae = MAEDecoder(in_dims=in_dims if self.expand is None else dims, dims=dims,
                              depth=depth, num_heads=num_heads, mlp_ratio=mlp_ratio,
                              predictor_dims=out_channels, embed=self.expand is None,
                              with_cp=with_cp)
        if scale is not None:  # the rescale head replaces MAE's per-token Linear
            self.mae.predictor = nn.Identity()
        self.head = rescale_head(scale, dims, out_channels) if scale is not None else None

    def init_weights(self) -> None:
        super().init_weights()
        init_linear_and_norm(self)  # MAE's own init (mask token) ran via super()

    def forward(self, latent: EncoderOutput, masks: MaskSet) -> torch.Tensor:
        """-> predictions ``[B, L', out_channels]`` row-major over the output grid."""
        latent = EncoderOutput(tokens=self.in_norm(latent.tokens), hw=tuple(latent.hw),
                               num_extra_tokens=latent.num_extra_tokens)
        if self.token_layout == 'visible':
            masks = masks.on_grid(latent.hw)
        elif self.token_layout == 'full':
            latent, masks = self.keep_visible(latent, masks)
        elif self.token_layout == 'compact':
            latent, masks = self.uncompact(latent, masks)
        x = self.mae(latent, masks)                                 # [B, h*w, D or out]
        if self.head is None:
            return x
        h, w = masks.grid
        x = x.transpose(1, 2).reshape(x.shape[0], -1, h, w)         # [B, D, h, w]
        return self.head(x).flatten(2).transpose(1, 2)              # [B, L', out]

    @staticmethod
    def keep_visible(latent: EncoderOutput, masks: MaskSet):
        """Full-grid tokens -> the visible ones (row-major) and the mask on the tap grid."""
        on_grid = masks.on_grid(latent.hw)
        extra = latent.tokens[:, :latent.num_extra_tokens]
        visible = gather_rows(latent.tokens[:, latent.num_extra_tokens:], on_grid.visible,
                              on_grid.num_visible)
        return (EncoderOutput(torch.cat([extra, visible], 1), latent.hw,
                              latent.num_extra_tokens), on_grid)

    def uncompact(self, latent: EncoderOutput, masks: MaskSet):
        """Compact tokens -> visible tokens in row-major order of the full output
        grid and the mask there (see the class docstring)."""
        tokens, (h, w) = latent.tokens[:, latent.num_extra_tokens:], latent.hw
        (gh, gw), b = masks.grid, tokens.shape[0]
        if self.expand is not None:  # Linear + PixelShuffle, as UM-MAE's decoder
            x = self.expand(tokens).transpose(1, 2).reshape(b, -1, h, w)
            x = nn.functional.pixel_shuffle(x, self.upsample)        # [B, D, u*h, u*w]
            h, w = x.shape[-2:]
            tokens = x.flatten(2).transpose(1, 2)
        windows = (gh // 2, gw // 2)
        if (h, w) == windows and self.expand is not None:         # one token per window
            return (EncoderOutput(tokens, windows),
                    MaskSet(torch.zeros(b, h * w, dtype=torch.bool, device=tokens.device),
                            windows, 2 * masks.unit_size, num_masked=0))
        if h % windows[0] or w % windows[1] or h // windows[0] != w // windows[1]:
            raise ValueError(f'{h}x{w} compact tokens do not tile the {windows} windows '
                             '(tokens coarser than a unit need upsample > 1)')
        r = h // windows[0]
        on_grid = masks.on_grid((2 * h, 2 * w))
        index = compact_index(windows, r, tokens.device)[None, :, None].expand(b, -1, 1)
        order = gather_rows(index, on_grid.visible, on_grid.num_visible)  # [B, K', 1]
        visible = take_rows(tokens, order[..., 0])
        return EncoderOutput(visible, on_grid.grid), on_grid
