"""The pyramids' pretraining initializations: UM-MAE's official scheme vs SimMIM's.

Each check compares the empirical statistics of a weight with the scheme's law:
xavier-uniform is bounded by ``sqrt(6 / (fan_in + fan_out))`` with std
``sqrt(2 / (fan_in + fan_out))``; the official conv init is normal with std
``sqrt(2 / (k * k * out))``.
"""
import math

import pytest
import torch
from mmdet.models.backbones.pvt import MixFFN, SpatialReductionAttention

from mmmim.models.encoders import MaskedPVT, MaskedSwin

SWIN = dict(embed_dims=32, depths=[1, 1], num_heads=[2, 4])
PVT = dict(embed_dims=32, num_stages=2, num_layers=[1, 1], num_heads=[1, 2], patch_sizes=[4, 2],
           strides=[4, 2], sr_ratios=(2, 1), mlp_ratios=[4, 4])


def built(cls, **kwargs):
    torch.manual_seed(0)
    model = cls(**kwargs)
    model.init_weights()
    return model


def swin(weight_init: str) -> MaskedSwin:
    return built(MaskedSwin, arch=SWIN, img_size=64, window_size=4, out_indices=(1,),
                 weight_init=weight_init)


def pvt(weight_init: str) -> MaskedPVT:
    return built(MaskedPVT, pretrain_img_size=64, out_indices=(1,), weight_init=weight_init,
                 **PVT)


def assert_xavier_uniform(weight: torch.Tensor, fan_in: int, fan_out: int) -> None:
    bound = math.sqrt(6. / (fan_in + fan_out))
    assert weight.abs().max() <= bound * (1 + 1e-6)
    assert weight.abs().max() > 0.95 * bound                 # uniform fills its range
    assert weight.std().item() == pytest.approx(math.sqrt(2. / (fan_in + fan_out)), rel=0.08)


def assert_fan_out_normal(weight: torch.Tensor, fan_out: int) -> None:
    std = math.sqrt(2. / fan_out)
    assert weight.std().item() == pytest.approx(std, rel=0.08)
    assert weight.abs().max() > 2.5 * std                    # a normal, not a uniform


def test_ummae_init__swin_linears_and_stem_are_xavier_and_merging_is_the_official_conv():
    model = swin('ummae')
    block = model.stages[0].blocks[0]
    qkv, fc1 = block.attn.w_msa.qkv, block.ffn.layers[0][0]
    assert_xavier_uniform(qkv.weight, 32, 96)
    assert_xavier_uniform(fc1.weight, 32, 128)
    assert torch.count_nonzero(fc1.bias) == 0
    stem = model.patch_embed.projection                      # 3 x 4 x 4 -> 32, as a Linear
    assert_xavier_uniform(stem.weight, 3 * 4 * 4, 32)
    merging = model.stages[0].downsample.reduction           # stands for a 2x2 conv 32 -> 64
    assert_fan_out_normal(merging.weight, 2 * 2 * 64)
    norm = block.norm1
    assert torch.all(norm.weight == 1) and torch.all(norm.bias == 0)


def test_ummae_init__pvt_ffn_convs_and_attention_are_xavier_as_the_official_linears():
    model = pvt('ummae')
    ffn = next(m for m in model.modules() if isinstance(m, MixFFN))
    fc1, fc2 = ffn.layers[0], ffn.layers[3]
    assert_xavier_uniform(fc1.weight, 32, 128)               # official Linear(32, 128)
    assert_xavier_uniform(fc2.weight, 128, 32)               # mmdet's own init: 3x wider
    attn = next(m for m in model.modules()
                if isinstance(m, SpatialReductionAttention) and m.sr_ratio > 1)
    in_proj = attn.attn.in_proj_weight
    assert_xavier_uniform(in_proj[:32], 32, 32)              # official q: Linear(C, C)
    assert_xavier_uniform(in_proj[32:], 32, 64)              # official kv: Linear(C, 2C)
    assert torch.count_nonzero(attn.attn.in_proj_bias) == 0
    assert_xavier_uniform(attn.attn.out_proj.weight, 32, 32)
    assert_xavier_uniform(model.layers[0][0].projection.weight, 3 * 4 * 4, 32)
    assert_fan_out_normal(attn.sr.weight, 32)                # 1x1 spatial reduction
    assert_fan_out_normal(model.layers[1][0].projection.weight, 2 * 2 * 64)


def test_simmim_init__truncated_normal_linears_and_backbone_convs():
    model = swin('simmim')
    fc1 = model.stages[0].blocks[0].ffn.layers[0][0]
    assert fc1.weight.std().item() == pytest.approx(0.02, rel=0.08)
    ffn = next(m for m in pvt('simmim').modules() if isinstance(m, MixFFN))
    assert_fan_out_normal(ffn.layers[3].weight, 32)          # mmdet's conv init kept


def test_weight_init__unknown_name_is_refused():
    with pytest.raises(ValueError, match='weight_init'):
        MaskedSwin(arch=SWIN, img_size=64, out_indices=(1,), weight_init='xavier')
