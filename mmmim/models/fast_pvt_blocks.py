"""The fast forwards of mmdet's PVT blocks (:mod:`.fast_blocks` describes them):
apart because mmdet's PVT imports mmcv's compiled ops, which ViT and Swin pretraining
do without. This module imports :mod:`.fast_blocks`, never the other way round."""
from typing import Optional, Type

import torch
from mmdet.models.backbones.pvt import MixFFN, SpatialReductionAttention
from torch import nn

from .fast_blocks import (
    attention,
    conv1x1_as_linear,
    conv_on_tokens,
    packed_linear,
    split_heads,
)
from .fast_blocks import use_fast_forward as use_fast_block_forward


class SDPASpatialReductionAttention(SpatialReductionAttention):
    """mmdet's ``SpatialReductionAttention`` with fused attention (same parameters:
    ``attn.in_proj_weight`` / ``attn.in_proj_bias``, ``attn.out_proj``, ``sr``,
    ``norm``)."""

    def reduced_keys(self, x: torch.Tensor, hw_shape,
                     pool: Optional[int] = None) -> torch.Tensor:
        """tokens ``[B, L, C]`` -> the key/value tokens ``[B, L', C]`` (spatially
        reduced by ``sr`` and normed when ``sr_ratio > 1``). ``sr`` gets the tokens
        themselves when it has ``reduce_tokens(x, hw_shape, pool)`` (mmmim's pooled
        reduction; ``pool`` None: its own), else as a channels-last map
        (:func:`conv_on_tokens`), which takes no ``pool``."""
        if self.sr_ratio == 1:
            return x
        if hasattr(self.sr, 'reduce_tokens'):
            return self.norm(self.sr.reduce_tokens(x, tuple(hw_shape), pool))
        if pool is not None:
            raise ValueError(f'a {type(self.sr).__name__} reduction takes no pool')
        return self.norm(conv_on_tokens(self.sr, x, hw_shape))

    def forward(self, x: torch.Tensor, hw_shape, identity=None,
                pool: Optional[int] = None) -> torch.Tensor:
        """x ``[B, L, C]`` (batch first) -> ``identity + attention(x)`` ``[B, L, C]``;
        ``pool``: the reduction's pooling in this call (:meth:`reduced_keys`)."""
        mha = self.attn
        b, length, c = x.shape
        heads = mha.num_heads
        kv_in = self.reduced_keys(x, hw_shape, pool)
        weight, bias = mha.in_proj_weight, mha.in_proj_bias
        q, = split_heads(packed_linear(x, weight, bias, slice(None, c)), heads, 1)
        k, v = split_heads(packed_linear(kv_in, weight, bias, slice(c, None)), heads, 2)
        dropout = mha.dropout if self.training else 0.
        out = attention(q, k, v, dropout_p=dropout)
        out = mha.out_proj(out.transpose(1, 2).reshape(b, length, c))
        return (x if identity is None else identity) + self.dropout_layer(self.proj_drop(out))


class LinearMixFFN(MixFFN):
    """mmdet's ``MixFFN`` without the depth-wise conv (PVT v1): its two 1x1 convs
    (``layers.0`` and ``layers.3``) applied as Linears on the tokens."""

    def forward(self, x: torch.Tensor, hw_shape, identity=None) -> torch.Tensor:
        """x ``[B, L, C]`` -> ``identity + ffn(x)`` ``[B, L, C]``."""
        fc1, act, drop, fc2, drop_out = self.layers
        out = drop_out(conv1x1_as_linear(drop(act(conv1x1_as_linear(x, fc1))), fc2))
        return (x if identity is None else identity) + self.dropout_layer(out)


def _is_plain_attention(module: SpatialReductionAttention) -> bool:
    mha = module.attn
    return (module.batch_first and mha._qkv_same_embed_dim and mha.bias_k is None
            and not mha.add_zero_attn)


def _is_pointwise_mix_ffn(module: MixFFN) -> bool:
    convs = [m for m in module.layers if isinstance(m, nn.Conv2d)]
    return len(module.layers) == 5 and all(c.kernel_size == (1, 1) for c in convs)


def fast_pvt_class(module: nn.Module) -> Type[nn.Module]:
    """The fast class for an mmdet PVT attention or point-wise MixFFN, else the
    module's own class."""
    if type(module) is SpatialReductionAttention and _is_plain_attention(module):
        return SDPASpatialReductionAttention
    if type(module) is MixFFN and _is_pointwise_mix_ffn(module):
        return LinearMixFFN
    return type(module)


def use_fast_forward(model: nn.Module) -> nn.Module:
    """:func:`.fast_blocks.use_fast_forward`, then every plain mmdet PVT attention and
    point-wise MixFFN inside ``model`` to the forwards above, in place; returns
    ``model``."""
    use_fast_block_forward(model)
    for module in model.modules():
        module.__class__ = fast_pvt_class(module)
    return model
