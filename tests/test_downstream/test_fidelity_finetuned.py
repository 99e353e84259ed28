"""A fine-tuned mmpretrain classifier initializes a detector / segmentor backbone
(issue 27 item 3: UM-MAE's downstream runs start from its ImageNet fine-tune).

A tiny mmpretrain ``ImageClassifier`` (Swin, window 4 at 64 px, GAP neck, linear head)
is built and saved here with ``torch.save`` in the layouts a fine-tune leaves
(mmengine's ``state_dict``, mmengine's EMA swap, a DDP ``module.`` prefix, a bare
dict); ``MIMPretrained`` loads it into a tiny mmdet / mmseg Swin of another window:
every classifier backbone tensor arrives unchanged (bias tables resized to the
window, as the report notes), the head and neck are
dropped on purpose, the report names what loaded; a file without the backbone fails.
"""
import pytest
import torch
from harness import captured_log
from mmengine.registry import init_default_scope

import mmmim.converters  # noqa: F401
from mmmim.converters import ConversionError
from mmmim.converters.initializer import MIMPretrained

ARCH = dict(embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 2, 2, 4])


def tiny_classifier() -> torch.nn.Module:
    """mmpretrain ImageClassifier: Swin (window 4, 64 px), GAP, 10-class head."""
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='ImageClassifier',
        backbone=dict(type='SwinTransformer', arch=ARCH, img_size=64,
                      stage_cfgs=[dict(window_size=4)] * 4),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=10, in_channels=128)))
    with torch.no_grad():   # every tensor distinct from any init
        for p in model.parameters():
            p.normal_()
    return model


def target_swin(package: str) -> torch.nn.Module:
    """The same tiny Swin as mmdet's / mmseg's backbone, window 7."""
    kw = dict(embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 2, 2, 4], window_size=7,
              out_indices=(0, 1, 2, 3), init_cfg=None)
    if package == 'mmdet':
        from mmdet.models.backbones import SwinTransformer
        return SwinTransformer(convert_weights=False, **kw)
    from mmseg.models.backbones import SwinTransformer
    return SwinTransformer(**kw)


def saved(state: dict, layout: str) -> dict:
    """``state`` as a fine-tune run leaves it on disk."""
    if layout == 'state_dict':
        return {'state_dict': state, 'meta': {'epoch': 100}}
    if layout == 'ema':   # EMAHook: state_dict holds the average, the raw ones aside
        raw = {f'module.{k}': torch.zeros_like(v) for k, v in state.items()}
        return {'state_dict': state, 'ema_state_dict': dict(raw, steps=torch.tensor(5))}
    if layout == 'ddp_model':
        return {'model': {f'module.{k}': v for k, v in state.items()}}
    return dict(state)   # bare


@pytest.mark.parametrize('package', ['mmdet', 'mmseg'])
@pytest.mark.parametrize('layout', ['state_dict', 'ema', 'ddp_model', 'bare'])
def test_finetuned_classifier__loads_every_backbone_tensor_and_drops_the_head(
        layout, package, tmp_path):
    classifier = tiny_classifier()
    state = classifier.state_dict()
    torch.save(saved(state, layout), tmp_path / 'epoch_100.pth')
    backbone = target_swin(package)
    with captured_log() as messages:
        report = MIMPretrained(checkpoint=str(tmp_path / 'epoch_100.pth'))(backbone)
    log = '\n'.join(messages)
    assert f'[swin->{package}] load report into SwinTransformer' in log
    assert 'mmpretrain / mmselfsup model (backbone.*)' in log
    assert 'status: OK, backbone fully loaded' in log
    assert ('EMA weights' in log) == (layout == 'ema')
    assert {'head (task specific)'} <= set(report.dropped_on_purpose.values())
    loaded = backbone.state_dict()
    source = {k[len('backbone.'):]: v for k, v in state.items() if k.startswith('backbone.')}
    compared = 0
    for key, value in source.items():
        if key.endswith('relative_position_index') or key not in loaded:
            continue   # rebuilt by the target / the classifier's final norm
        if key.endswith('relative_position_bias_table'):   # window 4 -> 7: resized
            assert loaded[key].shape == (13 * 13, value.shape[1])
            assert any(n.startswith(f'{key}: bias table resized') for n in report.notes)
        else:
            torch.testing.assert_close(loaded[key], value, rtol=0, atol=0, msg=key)
        compared += 1
    assert compared == len(report.matched) > 20


def test_finetuned_classifier__without_its_backbone_fails_loudly(tmp_path):
    state = {k: v for k, v in tiny_classifier().state_dict().items()
             if not k.startswith('backbone.stages.3')}
    torch.save({'state_dict': state}, tmp_path / 'cut.pth')
    with pytest.raises(ConversionError, match='FAILED, backbone did not load'):
        MIMPretrained(checkpoint=str(tmp_path / 'cut.pth'))(target_swin('mmdet'))


def test_finetuned_classifier__head_only_file_fails_loudly(tmp_path):
    state = {k: v for k, v in tiny_classifier().state_dict().items()
             if k.startswith('head.')}
    torch.save({'state_dict': state}, tmp_path / 'head.pth')
    with pytest.raises((ConversionError, ValueError), match='backbone'):
        MIMPretrained(checkpoint=str(tmp_path / 'head.pth'))(target_swin('mmdet'))
