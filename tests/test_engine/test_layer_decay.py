"""Layer-wise lr decay: per-parameter lr scales on tiny ViT, Swin and PVT."""
import pytest
import torch
from mmengine.registry import init_default_scope

import mmmim.engine.optimizers  # noqa: F401
from mmmim.registry import OPTIM_WRAPPER_CONSTRUCTORS

init_default_scope('mmmim')
RATE = 0.5


def build(model, rate=RATE, lr=1.0, wd=0.05):
    constructor = OPTIM_WRAPPER_CONSTRUCTORS.build(dict(
        type='LayerDecayOptimWrapperConstructor',
        optim_wrapper_cfg=dict(optimizer=dict(type='AdamW', lr=lr, weight_decay=wd)),
        paramwise_cfg=dict(layer_decay_rate=rate)))
    optimizer = constructor(model).optimizer
    per_param = {}
    for group in optimizer.param_groups:
        for name in group['names']:
            per_param[name] = (group['lr'], group['weight_decay'])
    return optimizer, per_param


def classifier(backbone, in_channels):
    from mmpretrain.models import ImageClassifier
    return ImageClassifier(backbone=backbone, neck=dict(type='GlobalAveragePooling'),
                           head=dict(type='LinearClsHead', num_classes=3,
                                     in_channels=in_channels))


def test_layer_decay__vit_blocks_decay_from_the_head_down():
    model = classifier(dict(type='VisionTransformer', img_size=32, patch_size=16,
                            arch=dict(embed_dims=16, num_layers=3, num_heads=2,
                                      feedforward_channels=32), out_type='avg_featmap'), 16)
    _, lr = build(model)
    top = 3 + 1
    assert lr['head.fc.weight'][0] == 1.0
    assert lr['backbone.ln2.weight'][0] == 1.0                     # after the blocks
    assert lr['backbone.layers.2.attn.qkv.weight'][0] == RATE ** (top - 3)
    assert lr['backbone.layers.0.ffn.layers.1.weight'][0] == RATE ** (top - 1)
    assert lr['backbone.patch_embed.projection.weight'][0] == RATE ** top
    assert lr['backbone.cls_token'][0] == RATE ** top
    # no weight decay on norms, biases, tokens and positions
    assert lr['backbone.layers.1.ln1.weight'][1] == 0
    assert lr['backbone.layers.1.attn.qkv.bias'][1] == 0
    assert lr['backbone.pos_embed'][1] == 0 and lr['backbone.cls_token'][1] == 0
    assert lr['backbone.layers.1.attn.qkv.weight'][1] == 0.05


def test_layer_decay__swin_counts_blocks_across_stages_and_merging_ends_its_stage():
    model = classifier(dict(type='SwinTransformer', img_size=64,
                            arch=dict(embed_dims=16, depths=[2, 3], num_heads=[1, 2]),
                            out_indices=(1,)), 32)
    _, lr = build(model)
    top = 2 + 3 + 1
    assert lr['backbone.patch_embed.projection.weight'][0] == RATE ** top
    assert lr['backbone.stages.0.blocks.0.attn.w_msa.qkv.weight'][0] == RATE ** (top - 1)
    assert lr['backbone.stages.0.blocks.1.attn.w_msa.qkv.weight'][0] == RATE ** (top - 2)
    # patch merging ends stage 0: the depth of stage 0's last block
    assert lr['backbone.stages.0.downsample.reduction.weight'][0] == RATE ** (top - 2)
    assert lr['backbone.stages.1.blocks.0.attn.w_msa.qkv.weight'][0] == RATE ** (top - 3)
    assert lr['backbone.stages.1.blocks.2.ffn.layers.1.weight'][0] == RATE ** (top - 5)
    assert lr['backbone.norm1.weight'][0] == 1.0 and lr['head.fc.weight'][0] == 1.0
    table = 'backbone.stages.0.blocks.0.attn.w_msa.relative_position_bias_table'
    assert lr[table][1] == 0


def test_layer_decay__pvt_stage_entry_and_norm_follow_their_stages():
    from mmdet.models.backbones import PyramidVisionTransformer
    backbone = PyramidVisionTransformer(pretrain_img_size=64, embed_dims=8, num_stages=2,
                                        num_layers=[2, 1], num_heads=[1, 2],
                                        patch_sizes=[4, 2], strides=[4, 2],
                                        sr_ratios=[2, 1], mlp_ratios=[2, 2],
                                        out_indices=(1,))
    _, lr = build(torch.nn.ModuleDict(dict(backbone=backbone)))
    top = 2 + 1 + 1
    assert lr['backbone.layers.0.0.projection.weight'][0] == RATE ** top  # stem
    assert lr['backbone.layers.0.1.1.attn.attn.in_proj_weight'][0] == RATE ** (top - 1)
    assert lr['backbone.layers.0.1.2.ffn.layers.3.weight'][0] == RATE ** (top - 2)
    assert lr['backbone.layers.1.0.norm.weight'] == (RATE ** (top - 2), 0)  # ends stage 0
    assert lr['backbone.layers.1.0.projection.weight'][0] == RATE ** (top - 2)
    assert lr['backbone.layers.1.1.0.pos_embed'][0] == RATE ** (top - 2)
    assert lr['backbone.layers.1.1.1.attn.attn.in_proj_weight'][0] == RATE ** (top - 3)


def test_layer_decay__rate_one_is_the_plain_optimizer():
    model = classifier(dict(type='VisionTransformer', img_size=32, patch_size=16,
                            arch=dict(embed_dims=16, num_layers=2, num_heads=2,
                                      feedforward_channels=32)), 16)
    optimizer, lr = build(model, rate=1.0)
    assert {v[0] for v in lr.values()} == {1.0}
    assert sum(len(g['params']) for g in optimizer.param_groups) == len(
        [p for p in model.parameters() if p.requires_grad])


def test_layer_decay__unknown_backbone_is_an_error():
    with pytest.raises(TypeError, match='no layer-wise decay rule'):
        build(torch.nn.Linear(2, 2))
