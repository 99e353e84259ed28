"""Weight-decay exemptions of the downstream configs against each family's reference.

Each test builds the shipped config (``Config.fromfile``), shrinks its model with the
tiny overrides of the other downstream tests, builds the optimizer from the config's
own ``optim_wrapper`` and compares the set of parameters at weight decay 0 with the
reference's rule applied to the same tiny model:

- mmdet / mmseg Swin and ViT-Adapter's HTC++: mmengine's ``DefaultOptimWrapperConstructor``
  with the reference's ``custom_keys`` (``'norm'``, ``absolute_pos_embed``,
  ``relative_position_bias_table`` at ``decay_mult=0``), run on the same model;
- UM-MAE's GFL: the same with its ``custom_keys`` (``'pos_embed'``, ``'norm'``, ``'bias'``);
- detectron2's ViTDet: ``torch.nn`` norm layers of the backbone and ``pos_embed``
  (detectron2's neck / head LayerNorm is its own class, outside its norm list);
- the official PVT: nothing exempt;
- the pretraining / fine-tuning default stays: 1-D parameters, positions, tokens,
  relative position tables.
"""
import re
from pathlib import Path
from typing import Callable, Dict, Set, Tuple

import pytest
import torch
from default_scope import default_scope_as_found  # noqa: F401 (autouse)
from harness import ROOT
from mmengine.config import Config, ConfigDict
from mmengine.optim import DefaultOptimWrapperConstructor, build_optim_wrapper
from mmengine.registry import init_default_scope
from tiny_detection import tiny_detector
from tiny_seg import tiny_segmentor

DET = ROOT / 'configs/benchmarks/mmdetection/coco'
SEG = ROOT / 'configs/benchmarks/mmsegmentation/ade20k'
SWIN_KEYS = ('absolute_pos_embed', 'relative_position_bias_table', 'norm')


def tiny_htc(model: dict) -> None:
    """HTC++: the FPN inside GlobalAttentionFPN made tiny, the attention's width with it."""
    neck = model['neck']
    model['neck'] = neck['fpn']
    tiny_detector(model)
    model['neck'] = dict(neck, fpn=model['neck'], num_heads=2)


def built(config: Path, override: Callable[[dict], None], scope: str):
    """``(model, cfg)``: the config's model made tiny (no checkpoint), and the config."""
    from mmengine.registry import MODELS
    cfg = Config.fromfile(str(config))
    model = cfg.model.to_dict()
    override(model)
    model['init_cfg'] = None
    init_default_scope(scope)
    torch.manual_seed(0)
    return MODELS.build(ConfigDict(model)), cfg


def weight_decay_of(model: torch.nn.Module, optim_wrapper: dict) -> Dict[str, float]:
    """Parameter name -> weight decay of its group, from ``optim_wrapper`` (fp32: the
    mixed-precision arguments dropped)."""
    fp32 = {k: v for k, v in optim_wrapper.items() if k not in ('dtype', 'loss_scale')}
    wrapper = build_optim_wrapper(model, dict(fp32, type='OptimWrapper'))
    group_of = {id(p): g['weight_decay'] for g in wrapper.optimizer.param_groups
                for p in g['params']}
    return {n: group_of[id(p)] for n, p in model.named_parameters() if p.requires_grad}


def exempt(wd: Dict[str, float]) -> Set[str]:
    return {name for name, value in wd.items() if value == 0}


def layer_norm_parameters(module: torch.nn.Module, prefix: str) -> Set[str]:
    """``prefix`` + the names of the parameters of ``module``'s ``nn.LayerNorm`` layers."""
    return {f'{prefix}{m_name}.{p_name}' for m_name, m in module.named_modules()
            if isinstance(m, torch.nn.LayerNorm)
            for p_name, _ in m.named_parameters(recurse=False)}


def custom_keys_reference(model: torch.nn.Module, optimizer: dict,
                          keys: Tuple[str, ...] = SWIN_KEYS) -> Set[str]:
    """The zero-weight-decay set of a recipe's ``custom_keys`` (``keys`` at
    ``decay_mult=0``; default mmdet's / mmseg's Swin) on ``model``: mmengine's default
    constructor, which matches a key anywhere in the prefixed name, as mmcv 1.x's."""
    constructor = DefaultOptimWrapperConstructor(
        dict(type='OptimWrapper', optimizer=dict(optimizer)),
        dict(custom_keys={key: dict(decay_mult=0.) for key in keys}))
    group_of = {id(g['params'][0]): g['weight_decay']
                for g in constructor(model).optimizer.param_groups}
    return {n for n, p in model.named_parameters() if group_of[id(p)] == 0}


@pytest.mark.parametrize('config, override, scope', [
    (DET / 'mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py', tiny_detector, 'mmdet'),
    (DET / 'mask-rcnn_swin-b-p4-w7_fpn_ms-crop-3x_coco.py', tiny_detector, 'mmdet'),
    (SEG / 'swin-tiny-patch4-window7_upernet_8xb2-160k_ade20k-512x512.py', tiny_segmentor,
     'mmseg'),
    (SEG / 'swin-base-patch4-window7_upernet_8xb2-160k_ade20k-512x512.py', tiny_segmentor,
     'mmseg'),
], ids=lambda v: v.stem[:28] if isinstance(v, Path) else '')
def test_swin_configs__exempt_exactly_the_reference_custom_keys_and_decay_biases(
        config, override, scope):
    model, cfg = built(config, override, scope)
    wd = weight_decay_of(model, cfg.optim_wrapper)
    assert exempt(wd) == custom_keys_reference(model, cfg.optim_wrapper.optimizer)
    assert wd['backbone.stages.0.blocks.0.attn.w_msa.qkv.bias'] > 0
    assert any('norm' in name for name in exempt(wd))
    if scope == 'mmseg':  # the heads' SyncBN ('bn', not 'norm') is decayed, as in mmseg
        assert wd['decode_head.bottleneck.bn.weight'] > 0


def test_htc_config__exempts_the_custom_keys_and_the_attention_necks_norms():
    """ViT-Adapter's ``ExtraAttention`` names its norms ``norm1`` / ``norm2`` /
    ``final_norm`` (exempt by its ``'norm'`` key); ours are mmpretrain's ``ln1`` / ``ln2``
    and ``norm``: exempt as norm layers."""
    model, cfg = built(DET / 'htc++_swin-l-p4-w12_fpn_instaboost-ms-400-1400-16xb1-3x_coco.py',
                       tiny_htc, 'mmdet')
    wd = weight_decay_of(model, cfg.optim_wrapper)
    neck_norms = layer_norm_parameters(model.neck, 'neck.')
    assert len(neck_norms) == 6
    reference = custom_keys_reference(model, cfg.optim_wrapper.optimizer)
    assert exempt(wd) == reference | neck_norms
    assert wd['backbone.stages.0.blocks.0.attn.w_msa.qkv.bias'] > 0


def test_vitdet_config__exempts_backbone_norms_and_pos_embed_as_detectron2():
    model, cfg = built(DET / 'vitdet_mask-rcnn_vit-base-p16_lsj-1024-100e_coco.py',
                       tiny_detector, 'mmdet')
    wd = weight_decay_of(model, cfg.optim_wrapper)
    torch_norms = layer_norm_parameters(model.backbone, 'backbone.')
    assert torch_norms
    assert exempt(wd) == torch_norms | {'backbone.pos_embed'}
    for name in ('backbone.layers.0.attn.rel_pos_h', 'backbone.layers.0.attn.qkv.bias',
                 'backbone.layers.0.ffn.layers.1.bias'):
        assert wd[name] == 0.1, name
    neck_norms = [n for n, m in model.neck.named_modules() if isinstance(m, torch.nn.LayerNorm)]
    assert neck_norms and all(wd[f'neck.{n}.weight'] == 0.1 for n in neck_norms)


@pytest.mark.parametrize('config', ['gfl_swin-t-p4-w16_fpn_lsj-1024-8xb2-25e_coco.py',
                                    'gfl_pvt-s_fpn_lsj-1024-8xb2-25e_coco.py'])
def test_ummae_gfl__exempts_what_the_recipes_custom_keys_match_in_our_names(config):
    """UM-MAE's GFL: ``custom_keys`` 'pos_embed', 'norm', 'bias' (any part of the name);
    the FPN's BatchNorm (``bn``) and the head's GroupNorm (``gn``) weights and its
    ``scales`` decayed, as there."""
    model, cfg = built(DET / config, tiny_detector, 'mmdet')
    wd = weight_decay_of(model, cfg.optim_wrapper)
    assert exempt(wd) == custom_keys_reference(model, cfg.optim_wrapper.optimizer,
                                               ('pos_embed', 'norm', 'bias'))
    decayed = [n for n in wd if re.search(r'\.(bn|gn)\.weight$|scales\.\d+\.scale$', n)]
    assert decayed and all(wd[n] == 0.05 for n in decayed), decayed


@pytest.mark.parametrize('config', ['mask-rcnn_pvt-s_fpn_1x_coco.py',
                                    'mask-rcnn_pvt-s_fpn_ms-crop-3x_coco.py'])
def test_pvt_detection_configs__decay_every_parameter_as_the_official_pvt(config):
    model, cfg = built(DET / config, tiny_detector, 'mmdet')
    wd = weight_decay_of(model, cfg.optim_wrapper)
    assert set(wd.values()) == {1e-4}


@pytest.mark.parametrize('config, position', [
    ('pvt-small_upernet_8xb2-160k_ade20k-512x512.py', 'pos_embed'),
    ('swin-tiny-patch4-window16-ummae_upernet_8xb2-160k_ade20k-512x512.py',
     'relative_position_bias_table'),
])
def test_ummae_segmentation__exempts_only_1d_parameters_as_ummae_seg(config, position):
    """UM-MAE's SEG constructor: 1-D (and ``.bias``) parameters only; the position
    embeddings and bias tables decayed."""
    model, cfg = built(SEG / config, tiny_segmentor, 'mmseg')
    wd = weight_decay_of(model, cfg.optim_wrapper)
    assert exempt(wd) == {n for n, p in model.named_parameters() if p.ndim <= 1}
    positions = [n for n in wd if position in n]
    assert positions and all(wd[n] == 0.05 for n in positions)


def test_mae_vit_segmentation__keeps_the_default_exemptions():
    """MAE / LocalMIM UperNet keep the pretraining rule (their references mean to
    exempt pos_embed / cls_token but compare prefixed names; docs state it)."""
    model, cfg = built(SEG / 'vit-base-p16-mae_upernet_8xb2-ld0.65-160k_ade20k-512x512.py',
                       tiny_segmentor, 'mmseg')
    wd = weight_decay_of(model, cfg.optim_wrapper)
    one_dim = {n for n, p in model.named_parameters() if p.ndim <= 1}
    tables = {n for n in wd if n.endswith('relative_position_bias_table')}
    assert tables
    assert exempt(wd) == one_dim | tables | {'backbone.pos_embed', 'backbone.cls_token'}


def test_constructor__norm_scope_and_1d_switches():
    """``no_decay_norms`` by module type ('backbone' / 'all'), ``no_decay_1d=False``
    decays biases; a bad scope is named."""
    from mmmim.engine.optimizers.layer_decay import LayerDecayOptimWrapperConstructor

    class Backbone(torch.nn.Sequential):
        def get_layer_depth(self, name: str, prefix: str = ''):
            return 0, 1                                     # one depth: no layer decay

    model = torch.nn.Module()
    model.backbone = Backbone(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4))
    model.neck = torch.nn.Sequential(torch.nn.Conv2d(4, 4, 1), torch.nn.BatchNorm2d(4))
    for scope, neck_norm_wd in (('backbone', 0.5), ('all', 0.0)):
        wrapper = LayerDecayOptimWrapperConstructor(
            dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1.0, weight_decay=0.5)),
            dict(no_decay_1d=False, no_decay_names=(), no_decay_norms=scope))(model)
        wd = {n: g['weight_decay'] for g in wrapper.optimizer.param_groups for n in g['names']}
        assert wd['backbone.1.weight'] == wd['backbone.1.bias'] == 0
        assert wd['backbone.0.bias'] == wd['neck.0.bias'] == 0.5
        assert wd['neck.1.weight'] == wd['neck.1.bias'] == neck_norm_wd
    with pytest.raises(ValueError, match='no_decay_norms'):
        LayerDecayOptimWrapperConstructor(dict(optimizer=dict(type='AdamW', lr=1.0)),
                                          dict(no_decay_norms='neck'))
