"""HTC++'s extra global self-attention on the last backbone stage, then an FPN.

The Swin paper's HTC++ appends "an extra global self-attention layer at the output
of the last stage": one pre-norm ViT block (LN -> multi-head self-attention with qkv
bias -> DropPath; LN -> MLP x4 -> DropPath; optional layer scale) and a final LN,
applied to every token of the stride-32 map, which it replaces. The other maps pass
through untouched into a standard FPN built from its own config.
"""
from typing import Optional, Sequence, Tuple, Union

import torch
from mmengine.model import BaseModule
from mmpretrain.models.backbones.vision_transformer import TransformerEncoderLayer
from torch import nn

from mmmim.registry import MODELS

from ..utils import run_block


class GlobalAttentionBlock(BaseModule):
    """One pre-norm ViT block over all ``H * W`` positions of a map, and a final LN.

    Input and output ``[B, C, H, W]``. Linear weights trunc-normal(0.02), biases 0,
    norms 1 / 0 (ViT / ViT-Adapter's init).
    """

    def __init__(self, dims: int, num_heads: int, mlp_ratio: float = 4.0,
                 drop_path_rate: float = 0.0, layer_scale_init_value: float = 0.0,
                 final_norm: bool = True, with_cp: bool = False) -> None:
        super().__init__()
        if dims % num_heads:
            raise ValueError(f'GlobalAttentionBlock: {dims} channels do not split into '
                             f'num_heads={num_heads} heads')
        self.block = TransformerEncoderLayer(
            embed_dims=dims, num_heads=num_heads,
            feedforward_channels=int(dims * mlp_ratio), drop_path_rate=drop_path_rate,
            layer_scale_init_value=layer_scale_init_value, qkv_bias=True)
        self.norm = nn.LayerNorm(dims) if final_norm else nn.Identity()
        self.with_cp = with_cp

    def init_weights(self) -> None:
        super().init_weights()          # the block re-draws its FFN (xavier) here
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.norm(self.block(tokens))                     # [B, HW, C]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        tokens = x.flatten(2).transpose(1, 2)                    # [B, HW, C]
        tokens = run_block(self._tokens, tokens, with_cp=self.with_cp)
        return tokens.transpose(1, 2).reshape(b, c, h, w)


@MODELS.register_module()
class GlobalAttentionFPN(BaseModule):
    """FPN whose input's last (coarsest) map first goes through a global ViT block.

    Example (mmdet config, HTC++ on Swin-L)::

        neck=dict(type='mmmim.GlobalAttentionFPN', num_heads=48, drop_path_rate=0.3,
                  fpn=dict(type='FPN', in_channels=[192, 384, 768, 1536],
                           out_channels=256, num_outs=5))

    Args:
        fpn: config of the FPN (built in the current default scope, e.g. mmdet's
            ``FPN``) or a built module; its ``in_channels[-1]`` is the block width.
        num_heads: attention heads of the global block.
        mlp_ratio: MLP hidden width over the block width.
        drop_path_rate: stochastic depth of both residual branches.
        layer_scale_init_value: layer scale init (0 = no layer scale).
        final_norm: LayerNorm after the block.
        with_cp: gradient checkpointing of the block.
    """

    def __init__(self, fpn: Union[dict, nn.Module], num_heads: int, mlp_ratio: float = 4.0,
                 drop_path_rate: float = 0.0, layer_scale_init_value: float = 0.0,
                 final_norm: bool = True, with_cp: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.fpn = MODELS.build(fpn) if isinstance(fpn, dict) else fpn
        self.in_channels = list(self.fpn.in_channels)
        self.global_attention = GlobalAttentionBlock(
            self.in_channels[-1], num_heads, mlp_ratio, drop_path_rate,
            layer_scale_init_value, final_norm, with_cp)

    def refine_last(self, feats: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, ...]:
        """The backbone maps ``[B, C_i, H_i, W_i]`` with the last one replaced by its
        globally attended version; the others are returned as they are."""
        if len(feats) != len(self.in_channels):
            raise ValueError(f'GlobalAttentionFPN: got {len(feats)} maps, the FPN takes '
                             f'in_channels={self.in_channels}')
        *lower, last = feats
        return (*lower, self.global_attention(last))

    def forward(self, feats: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, ...]:
        """Backbone maps -> the FPN's ``num_outs`` maps ``[B, out_channels, h, w]``."""
        return self.fpn(self.refine_last(feats))
