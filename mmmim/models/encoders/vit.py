"""ViT encoder for masked pretraining, with mmpretrain's VisionTransformer keys."""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmpretrain.models.backbones import VisionTransformer
from torch import nn

from mmmim.registry import MODELS

from ..fast_blocks import use_fast_forward
from ..layer_depth import family_rule
from ..pos_embed import resize_abs_pos_embed, sincos_pos_embed
from ..structures import EncoderOutput, MaskSet
from ..utils import (
    gather_rows,
    init_linear_and_norm,
    patchify,
    resample_mask,
    run_block,
)


@MODELS.register_module()
class MaskedViT(VisionTransformer):
    """mmpretrain's VisionTransformer that also encodes only the visible units.

    The parameters (and so checkpoint keys) are exactly mmpretrain's
    ``VisionTransformer`` ones, plus ``secondary_token`` when secondary masking is on,
    so ``backbone.*`` keys load into mmpretrain classifiers, mmseg and (converted) timm.

    ``forward(x)`` without masks is the plain backbone (features for evaluation);
    ``forward(x, masks)`` runs on the visible units of ``masks`` (MAE): the encoder
    sees ``[B, 1 + K, C]`` tokens where K = visible units per sample.

    Args:
        arch: mmpretrain arch name ('s', 'b', 'l', ...) or dict.
        img_size: input size the position embedding is built for.
        patch_size: patch side in pixels.
        secondary_token: add a learnable token that replaces the content of
            secondarily masked units (UM-MAE).
        fixed_pos_embed: use a frozen 2D sin-cos position embedding (MAE).
        taps: 0-based block indices whose outputs are returned by name
            (``'block{i}'``) for multi-level decoders.
        with_cp: activation checkpointing of every block on the visible units.
        **kwargs: the rest of ``VisionTransformer``'s arguments.
    """

    def __init__(self, arch='b', img_size=224, patch_size=16,
                 secondary_token: bool = False, fixed_pos_embed: bool = True,
                 taps: Sequence[int] = (), with_cp: bool = False, **kwargs) -> None:
        kwargs.setdefault('out_type', 'raw')
        kwargs.setdefault('final_norm', True)
        super().__init__(arch=arch, img_size=img_size, patch_size=patch_size, **kwargs)
        use_fast_forward(self)
        self.patch_size = patch_size
        self.with_cp = with_cp
        self.fixed_pos_embed = fixed_pos_embed
        self.pos_embed.requires_grad = not fixed_pos_embed
        self.taps = tuple(i % self.num_layers for i in taps)
        self.secondary_token = (nn.Parameter(torch.zeros(1, 1, self.embed_dims))
                                if secondary_token else None)

    def get_layer_depth(self, param_name: str, prefix: str = '') -> Tuple[int, int]:
        """``(depth, number of depths)`` of a parameter for layer-wise lr decay: the
        ViT rule of :mod:`mmmim.models.layer_depth` (mmpretrain's signature)."""
        return family_rule(self)(param_name, prefix)

    @property
    def out_dims(self) -> int:
        """Width of the tokens the encoder hands to a decoder."""
        return self.embed_dims

    def init_weights(self) -> None:
        super().init_weights()
        if isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained':
            return
        init_linear_and_norm(self)
        if self.fixed_pos_embed:
            grid_pos = sincos_pos_embed(self.patch_resolution, self.embed_dims)
            self.pos_embed.data[:, self.num_extra_tokens:] = grid_pos
            self.pos_embed.data[:, :self.num_extra_tokens] = 0
        w = self.patch_embed.projection.weight.data
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        if self.cls_token is not None:
            nn.init.normal_(self.cls_token, std=.02)
        if self.secondary_token is not None:
            nn.init.normal_(self.secondary_token, std=.02)

    def forward(self, x: torch.Tensor, masks: Optional[MaskSet] = None):
        """x ``[B, 3, H, W]``. Without masks: mmpretrain's backbone output tuple.
        With masks: :class:`EncoderOutput` over the visible units."""
        if masks is None:
            return super().forward(x)
        return self.forward_visible(x, masks)

    def _positions(self, hw) -> torch.Tensor:
        """Position embedding ``[1, extra + h*w, C]`` for a patch grid ``hw``."""
        return resize_abs_pos_embed(self.pos_embed, hw, self.patch_resolution,
                                    num_extra_tokens=self.num_extra_tokens,
                                    mode=self.interpolate_mode)

    def embed_visible(self, x: torch.Tensor, masks: MaskSet):
        """Patch-embed the visible patches, add positions -> ``[B, K, C]``.

        A patch embedding that is one stride-p conv (mmpretrain's ViT) runs as a
        Linear on the visible patches' pixels only (:meth:`embeds_as_linear`): the
        same tokens as the conv over every patch followed by the gather, without
        the masked patches' forward and backward work."""
        if self.embeds_as_linear(x):
            hw = (x.shape[-2] // self.patch_size, x.shape[-1] // self.patch_size)
            rows = masks.on_grid(hw).visible_rows                   # [B, K]
            conv = self.patch_embed.projection
            weight = conv.weight.permute(0, 2, 3, 1).flatten(1)  # patchify's (p, p, C)
            patches = F.linear(gather_rows(patchify(x, self.patch_size), rows), weight,
                               conv.bias)
        else:
            patches, hw = self.patch_embed(x)                   # [B, L, C]
            rows = masks.on_grid(hw).visible_rows
            patches = gather_rows(patches, rows)                # [B, K, C]
        pos = self._positions(hw)
        if masks.secondary is not None:
            if self.secondary_token is None:
                raise ValueError('masks carry a secondary mask but the encoder was '
                                 'built with secondary_token=False')
            secondary = gather_rows(resample_mask(masks.secondary, masks.grid, hw)[..., None],
                                    rows)
            patches = torch.where(secondary, self.secondary_token.to(patches.dtype), patches)
        pos_rows = gather_rows(pos[:, self.num_extra_tokens:].expand(len(patches), -1, -1), rows)
        return patches + pos_rows, pos[:, :self.num_extra_tokens], hw

    def embeds_as_linear(self, x: torch.Tensor) -> bool:
        """The patch embedding is a plain stride-p conv (no padding, dilation,
        groups or norm) and x ``[B, C, H, W]`` tiles into whole patches (mmcv's
        adaptive padding then pads nothing)."""
        embed = self.patch_embed
        conv = getattr(embed, 'projection', None)
        p = self.patch_size
        return (type(conv) is nn.Conv2d and conv.kernel_size == conv.stride == (p, p)
                and conv.padding == (0, 0) and conv.dilation == (1, 1) and conv.groups == 1
                and getattr(embed, 'norm', None) is None
                and x.shape[-2] % p == 0 and x.shape[-1] % p == 0)

    def forward_visible(self, x: torch.Tensor, masks: MaskSet) -> EncoderOutput:
        """Encode the visible units: tokens ``[B, extra + K, C]`` plus named taps."""
        tokens, extra_pos, hw = self.embed_visible(x, masks)
        if self.cls_token is not None:
            cls = (self.cls_token + extra_pos).expand(tokens.shape[0], -1, -1)
            tokens = torch.cat([cls, tokens], dim=1)
        tokens = self.pre_norm(self.drop_after_pos(tokens))
        taps = {}
        for i, layer in enumerate(self.layers):
            tokens = run_block(layer, tokens, with_cp=self.with_cp)
            if i in self.taps:
                taps[f'block{i}'] = tokens
        if self.final_norm:
            tokens = self.ln1(tokens)
        return EncoderOutput(tokens=tokens, hw=hw, num_extra_tokens=self.num_extra_tokens,
                             taps=taps, tap_hw={k: hw for k in taps})
