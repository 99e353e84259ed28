"""Pretraining initializations of the pyramid encoders (``weight_init`` of
:class:`MaskedSwin` / :class:`MaskedPVT`).

``'simmim'``: SimMIM's (and the original Swin's) init: truncated-normal (std 0.02)
Linear weights, zero biases, unit LayerNorms; convolutions keep the backbone's own
init (mmpretrain's Swin: PyTorch default; mmdet's PVT: normal with std
``sqrt(2 / fan_out)``).

``'ummae'``: the official UM-MAE pyramids' ``initialize_weights`` (their Swin and PVT
pretraining models, and the SimMIM baselines of the UM-MAE paper), stated on the
layers of the official model and mapped onto the ecosystem's modules:

=====================================  ==========================================
official layer                          init (ours: the module that stands for it)
=====================================  ==========================================
every ``nn.Linear``                     xavier-uniform, zero bias (Linears; mmdet
                                        PVT's 1x1-conv FFN ``fc1``/``fc2``; the
                                        q / kv rows of ``nn.MultiheadAttention``'s
                                        ``in_proj_weight``, each block on its own)
stage-1 patch-embedding conv            xavier-uniform of the weight viewed as
                                        ``[out, in * k * k]`` (a Linear)
other ``nn.Conv2d`` (patch merging,     normal, std ``sqrt(2 / (k * k * out))``,
PVT spatial reduction)                  zero bias (Swin's patch-merging Linear
                                        ``4C -> 2C`` stands for the official 2x2
                                        stride-2 conv ``C -> 2C``: ``k * k = 4``)
``nn.LayerNorm``                        weight 1, bias 0
mask / secondary tokens                 normal, std 0.02
=====================================  ==========================================

Not covered by the official scheme: the official Swin has no relative position
bias table (a small MLP of 1x1 convs computes the bias from coordinate offsets);
mmpretrain's table keeps its truncated-normal (0.02) init. Position embeddings are
the encoders' own (fixed sin-cos for PVT).
"""
import math
from typing import Iterable, Optional

import torch
from mmengine.model.weight_init import trunc_normal_
from torch import nn

WEIGHT_INITS = ('simmim', 'ummae')


def init_tokens(tokens: Iterable[Optional[nn.Parameter]]) -> None:
    """Learnable mask / secondary tokens: normal, std 0.02."""
    for token in tokens:
        if token is not None:
            nn.init.normal_(token, std=.02)


def init_norms(module: nn.Module) -> None:
    """LayerNorms: weight 1, bias 0."""
    for m in module.modules():
        if isinstance(m, nn.LayerNorm) and m.elementwise_affine:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def init_simmim_weights(module: nn.Module,
                        tokens: Iterable[Optional[nn.Parameter]] = ()) -> None:
    """SimMIM's init (see the module docstring): truncated-normal (0.02) Linear
    weights, zero biases, unit LayerNorms, normal (0.02) tokens."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            trunc_normal_(m.weight, std=.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    init_norms(module)
    init_tokens(tokens)


def xavier_as_linear(weight: torch.Tensor) -> None:
    """xavier-uniform of a ``[out, in, (k, k)]`` weight viewed as ``[out, in*k*k]``."""
    nn.init.xavier_uniform_(weight.data.view(weight.shape[0], -1))


def fan_out_normal(weight: torch.Tensor, out_channels: int, kernel_area: int,
                   groups: int = 1) -> None:
    """The official conv init: normal, std ``sqrt(2 / (kernel_area * out / groups))``."""
    nn.init.normal_(weight, std=math.sqrt(2. / (kernel_area * out_channels // groups)))


def zero_bias(m: nn.Module) -> None:
    if getattr(m, 'bias', None) is not None:
        nn.init.zeros_(m.bias)


def init_ummae_weights(module: nn.Module, stem: nn.Conv2d,
                       tokens: Iterable[Optional[nn.Parameter]] = (),
                       linear_convs: Iterable[nn.Conv2d] = (),
                       merging_linears: Iterable[nn.Linear] = ()) -> None:
    """UM-MAE's init (see the module docstring) of ``module``.

    Args:
        stem: the stage-1 patch-embedding conv (xavier as a Linear).
        tokens: learnable tokens.
        linear_convs: convs that stand for official Linears (1x1 FFN convs).
        merging_linears: Linears that stand for official 2x2 stride-2 merging convs.
    """
    linear_convs = {id(m) for m in linear_convs}
    merging_linears = {id(m) for m in merging_linears}
    for m in module.modules():
        if isinstance(m, nn.Linear) and id(m) in merging_linears:
            fan_out_normal(m.weight, m.out_features, kernel_area=4)
        elif isinstance(m, nn.Linear) or id(m) in linear_convs:
            xavier_as_linear(m.weight)
        elif isinstance(m, nn.Conv2d):
            fan_out_normal(m.weight, m.out_channels, m.kernel_size[0] * m.kernel_size[1],
                           m.groups)
        elif isinstance(m, nn.MultiheadAttention) and m.in_proj_weight is not None:
            dims = m.embed_dim       # official q: Linear(C, C); kv: Linear(C, 2C)
            nn.init.xavier_uniform_(m.in_proj_weight.data[:dims])
            nn.init.xavier_uniform_(m.in_proj_weight.data[dims:])
            if m.in_proj_bias is not None:
                nn.init.zeros_(m.in_proj_bias)
            continue
        else:
            continue
        zero_bias(m)
    xavier_as_linear(stem.weight)
    zero_bias(stem)
    init_norms(module)
    init_tokens(tokens)
