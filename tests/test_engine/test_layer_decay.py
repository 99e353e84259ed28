"""Layer-wise lr decay: group lrs and weight decay for classifiers, detector- and
segmentor-shaped models, the log, and building by name under mmdet / mmseg scopes."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from mmengine.registry import init_default_scope

import mmmim.engine.optimizers  # noqa: F401
from mmmim.registry import OPTIM_WRAPPER_CONSTRUCTORS

REPO = Path(__file__).resolve().parents[2]
RATE = 0.5


def build(model, rate=RATE, lr=1.0, wd=0.05):
    init_default_scope('mmmim')
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


def tiny_vit_classifier(layers=3):
    return classifier(dict(type='VisionTransformer', img_size=32, patch_size=16,
                           arch=dict(embed_dims=16, num_layers=layers, num_heads=2,
                                     feedforward_channels=32), out_type='avg_featmap'), 16)


def with_neck(backbone, width=8):
    """A detector / segmentor-shaped model: ``backbone`` plus a neck and a head."""
    return torch.nn.ModuleDict(dict(backbone=backbone, neck=torch.nn.Linear(width, width),
                                    decode_head=torch.nn.LayerNorm(width)))


def test_layer_decay__vit_classifier_decays_from_the_head_down_and_spares_tokens(mmengine_log):
    model = tiny_vit_classifier()
    optimizer, lr = build(model)
    top = 3 + 1
    assert lr['head.fc.weight'] == (1.0, 0.05)
    assert lr['backbone.ln1.weight'][0] == 1.0                     # after the blocks
    assert lr['backbone.layers.2.attn.qkv.weight'] == (RATE ** (top - 3), 0.05)
    assert lr['backbone.layers.0.ffn.layers.1.weight'][0] == RATE ** (top - 1)
    assert lr['backbone.patch_embed.projection.weight'][0] == RATE ** top
    assert lr['backbone.cls_token'][0] == RATE ** top
    no_decay = {name for name, (_, wd) in lr.items() if wd == 0}
    expected = {name for name, p in model.named_parameters() if p.ndim <= 1}
    assert no_decay == expected | {'backbone.cls_token', 'backbone.pos_embed'}
    # every group logged with its lr and weight decay
    table = next(m for m in mmengine_log if m.startswith('layer-wise lr decay'))
    assert f'{len(optimizer.param_groups)} parameter groups' in table
    for group in optimizer.param_groups:
        row = next(r for r in table.splitlines() if r.endswith(', '.join(group['names'])))
        assert f'{group["lr"]:.2e}' in row and f'{group["weight_decay"]:12.3g}' in row


def test_layer_decay__swin_classifier_counts_blocks_across_stages():
    model = classifier(dict(type='SwinTransformer', img_size=64,
                            arch=dict(embed_dims=16, depths=[2, 3], num_heads=[1, 2]),
                            out_indices=(1,)), 32)
    _, lr = build(model)
    top = 2 + 3 + 1
    assert lr['backbone.patch_embed.projection.weight'][0] == RATE ** top
    assert lr['backbone.stages.0.blocks.1.attn.w_msa.qkv.weight'][0] == RATE ** (top - 2)
    assert lr['backbone.stages.0.downsample.reduction.weight'][0] == RATE ** (top - 2)
    assert lr['backbone.stages.1.blocks.2.ffn.layers.1.weight'][0] == RATE ** (top - 5)
    assert lr['backbone.norm1.weight'][0] == 1.0 and lr['head.fc.weight'][0] == 1.0
    table = 'backbone.stages.0.blocks.0.attn.w_msa.relative_position_bias_table'
    assert lr[table] == (RATE ** (top - 1), 0)


def test_layer_decay__mmdet_swin_detector_neck_at_full_lr_no_decay_on_positions():
    from mmdet.models.backbones import SwinTransformer
    backbone = SwinTransformer(pretrain_img_size=64, embed_dims=8, depths=(2, 1),
                               num_heads=(1, 2), strides=(4, 2), window_size=4,
                               out_indices=(0, 1), use_abs_pos_embed=True)
    _, lr = build(with_neck(backbone))
    top = 2 + 1 + 1
    assert lr['neck.weight'] == (1.0, 0.05) and lr['decode_head.weight'] == (1.0, 0)
    assert lr['backbone.absolute_pos_embed'] == (1.0, 0)
    table = 'backbone.stages.1.blocks.0.attn.w_msa.relative_position_bias_table'
    assert lr[table] == (RATE ** (top - 3), 0)
    assert lr['backbone.stages.0.downsample.reduction.weight'] == (RATE ** (top - 2), 0.05)


def test_layer_decay__mmseg_mae_segmentor_spares_pos_embed_and_relative_tables():
    from mmseg.models.backbones import MAE
    backbone = MAE(img_size=32, patch_size=16, embed_dims=8, num_layers=2, num_heads=2,
                   mlp_ratio=2, init_values=1.0, out_indices=[1])
    _, lr = build(with_neck(backbone))
    top = 2 + 1
    assert lr['backbone.pos_embed'] == (RATE ** top, 0)       # mmseg's own decays it
    assert lr['backbone.cls_token'] == (RATE ** top, 0)
    assert lr['backbone.layers.1.attn.relative_position_bias_table'] == (RATE, 0)
    assert lr['backbone.layers.0.attn.qkv.weight'] == (RATE ** 2, 0.05)
    assert lr['neck.weight'] == (1.0, 0.05)


def test_layer_decay__pvt_backbone_alone_stage_entry_follows_its_stage():
    from mmdet.models.backbones import PyramidVisionTransformer
    backbone = PyramidVisionTransformer(pretrain_img_size=64, embed_dims=8, num_stages=2,
                                        num_layers=[2, 1], num_heads=[1, 2],
                                        patch_sizes=[4, 2], strides=[4, 2],
                                        sr_ratios=[2, 1], mlp_ratios=[2, 2],
                                        out_indices=(1,))
    _, lr = build(backbone)
    top = 2 + 1 + 1
    assert lr['layers.0.0.projection.weight'][0] == RATE ** top  # stem
    assert lr['layers.0.1.2.ffn.layers.3.weight'][0] == RATE ** (top - 2)
    assert lr['layers.1.0.projection.weight'][0] == RATE ** (top - 2)
    assert lr['layers.1.1.0.pos_embed'] == (RATE ** (top - 2), 0)
    assert lr['layers.1.1.1.attn.attn.in_proj_weight'] == (RATE ** (top - 3), 0.05)


def test_layer_decay__vitdet_style_rel_pos_on_mmpretrain_keys_is_its_block_without_decay():
    """ViTDet-style relative positions ``layers.i.attn.rel_pos_h/w`` (2-D tables)."""
    model = tiny_vit_classifier()
    for layer in model.backbone.layers:
        layer.attn.rel_pos_h = torch.nn.Parameter(torch.zeros(2 * 2 - 1, 8))
        layer.attn.rel_pos_w = torch.nn.Parameter(torch.zeros(2 * 2 - 1, 8))
    _, lr = build(model)
    top = 3 + 1
    assert lr['backbone.layers.1.attn.rel_pos_h'] == (RATE ** (top - 2), 0)
    assert lr['backbone.layers.2.attn.rel_pos_w'] == (RATE ** (top - 3), 0)


def test_layer_decay__rate_one_is_the_plain_optimizer():
    model = tiny_vit_classifier(layers=2)
    optimizer, lr = build(model, rate=1.0)
    assert {v[0] for v in lr.values()} == {1.0}
    assert sum(len(g['params']) for g in optimizer.param_groups) == len(
        [p for p in model.parameters() if p.requires_grad])


def test_layer_decay__bad_paramwise_cfg_names_the_key():
    with pytest.raises(ValueError, match='num_layers'):
        OPTIM_WRAPPER_CONSTRUCTORS.build(dict(
            type='LayerDecayOptimWrapperConstructor',
            optim_wrapper_cfg=dict(optimizer=dict(type='AdamW', lr=1.0)),
            paramwise_cfg=dict(layer_decay_rate=0.65, num_layers=12)))


BUILD_BY_NAME = """
import sys
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import MODELS, init_default_scope
assert 'mmmim' not in sys.modules
for path in sys.argv[1:]:
    cfg = Config.fromfile(path)            # runs custom_imports, as the runner does
    init_default_scope(cfg.default_scope)
    model = MODELS.build(cfg.model)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    lrs = sorted({round(g['lr'], 8) for g in wrapper.optimizer.param_groups})
    print(cfg.default_scope, type(wrapper).__name__, lrs)
"""
SWIN = dict(type='SwinTransformer', pretrain_img_size=64, embed_dims=8, depths=(1, 1),
            num_heads=(1, 2), strides=(4, 2), window_size=4, out_indices=(0, 1))
MODEL = dict(
    mmdet=dict(type='RetinaNet', backbone=SWIN,
               neck=dict(type='FPN', in_channels=[8, 16], out_channels=8, num_outs=2),
               bbox_head=dict(type='RetinaHead', num_classes=2, in_channels=8,
                              feat_channels=8, stacked_convs=1,
                              anchor_generator=dict(type='AnchorGenerator',
                                                    octave_base_scale=4, scales_per_octave=1,
                                                    ratios=[1.0], strides=[4, 8]),
                              bbox_coder=dict(type='DeltaXYWHBBoxCoder'))),
    mmseg=dict(type='EncoderDecoder', backbone=SWIN,
               decode_head=dict(type='FCNHead', in_channels=16, in_index=1, channels=8,
                                num_convs=1, num_classes=2)))


def test_layer_decay__builds_by_name_under_mmdet_and_mmseg_default_scope(tmp_path):
    """A fresh process, as a detection / segmentation run: only custom_imports brings
    mmmim in, and ``constructor='mmmim.LayerDecayOptimWrapperConstructor'`` resolves
    from mmdet's and mmseg's default scope."""
    paths = []
    for scope in ('mmdet', 'mmseg'):
        paths.append(tmp_path / f'{scope}_cfg.py')
        paths[-1].write_text(textwrap.dedent(f'''
            default_scope = '{scope}'
            custom_imports = dict(imports=['mmmim.engine'], allow_failed_imports=False)
            model = {MODEL[scope]!r}
            optim_wrapper = dict(
                type='OptimWrapper', optimizer=dict(type='AdamW', lr=1.0, weight_decay=0.05),
                constructor='mmmim.LayerDecayOptimWrapperConstructor',
                paramwise_cfg=dict(layer_decay_rate=0.5))
        '''))
    out = subprocess.run([sys.executable, '-c', BUILD_BY_NAME, *map(str, paths)],
                         capture_output=True, text=True, cwd=tmp_path, timeout=300,
                         env={**os.environ, 'PYTHONPATH': str(REPO)})
    assert out.returncode == 0, out.stderr[-3000:]
    # Swin with 2 blocks: depths 0..3, lr 0.5 ** (3 - d); neck and heads at 1.0
    for scope in ('mmdet', 'mmseg'):
        assert f'{scope} OptimWrapper [0.125, 0.25, 0.5, 1.0]' in out.stdout, out.stdout
