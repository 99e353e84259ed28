"""ViT converters: round trips compared by features on real photographs, and wrong
checkpoints that must fail loudly."""
import pytest
import torch
from mmengine.registry import init_default_scope
from test_converters.helpers import (
    IMAGE,
    TINY,
    import_mmseg_mae,
    tiny_pretrained_model,
    tiny_timm_vit,
)

from mmmim.converters import (
    ConversionError,
    MIMPretrained,
    available_converters,
    convert_checkpoint,
    get_converter,
    load_converted,
    load_weights,
)

init_default_scope('mmmim')


def tiny_mmpretrain_vit(path, img_size=IMAGE, **kw):
    from mmpretrain.models.backbones import VisionTransformer
    vit = VisionTransformer(arch=TINY, img_size=img_size, patch_size=16, out_type='raw',
                            init_cfg=dict(type='MIMPretrained', checkpoint=path), **kw)
    vit.init_weights()
    vit.eval()  # mmpretrain's train() returns None
    return vit


def test_vit_to_timm__no_missing_or_unexpected_keys_and_same_features(
        pretrained, reference_tokens, photo_batch):
    _, path = pretrained
    converted, report = convert_checkpoint(load_weights(path), 'vit', 'timm')
    timm_vit = tiny_timm_vit()
    missing, unexpected = timm_vit.load_state_dict(converted, strict=False)
    assert sorted(missing) == ['head.bias', 'head.weight'] and unexpected == []
    with torch.no_grad():
        feats = timm_vit.forward_features(photo_batch)
    torch.testing.assert_close(feats, reference_tokens, atol=1e-4, rtol=0)


def test_vit_to_timm__report_lists_what_was_dropped_on_purpose(pretrained):
    _, path = pretrained
    _, report = convert_checkpoint(load_weights(path), 'vit', 'timm')
    dropped = report.dropped_on_purpose
    assert 'secondary_token' in dropped and 'UM-MAE' in dropped['secondary_token']
    assert any(k.startswith('decoder.') for k in dropped)
    assert all(not k.startswith('encoder.') for k in report.matched)
    assert 'mmmim pretraining checkpoint (encoder.*)' in report.source
    assert 'status: OK' in str(report)


def test_mimpretrained__mmpretrain_backbone_gets_our_features(pretrained, reference_tokens,
                                                              photo_batch):
    """Also proves the loaded weights survive the rest of ``init_weights`` (children
    re-drawing FFN weights, mmpretrain re-drawing ``pos_embed``)."""
    _, path = pretrained
    vit = tiny_mmpretrain_vit(path)
    with torch.no_grad():
        feats = vit(photo_batch)[0]
    torch.testing.assert_close(feats, reference_tokens, atol=1e-4, rtol=0)


def test_mimpretrained__image_classifier_extracts_our_class_token(pretrained, reference_tokens,
                                                                  photo_batch):
    from mmpretrain.models import ImageClassifier
    _, path = pretrained
    clf = ImageClassifier(
        backbone=dict(type='VisionTransformer', arch=TINY, img_size=IMAGE, patch_size=16,
                      init_cfg=dict(type='MIMPretrained', checkpoint=path)),
        head=dict(type='LinearClsHead', num_classes=10, in_channels=TINY['embed_dims']))
    clf.init_weights()
    clf.eval()
    with torch.no_grad():
        cls_token = clf.extract_feat(photo_batch)[0]
    torch.testing.assert_close(cls_token, reference_tokens[:, 0], atol=1e-4, rtol=0)


def test_mimpretrained__mmseg_mae_backbone_matches_with_neutral_extras(
        pretrained, reference_tokens, photo_batch):
    """mmseg's MAE backbone adds layer scale and a relative position bias that the
    checkpoint cannot hold. With ``init_values=1.0`` (as mmseg's MAE UperNet config
    sets) and the bias table at its zero initialization, the architectures agree, so
    the patch features must equal ours. Our LN eps (1e-6) is passed to mmseg, whose
    default is 1e-5."""
    MAE = import_mmseg_mae()
    _, path = pretrained
    mae = MAE(img_size=IMAGE, patch_size=16, embed_dims=TINY['embed_dims'],
              num_layers=TINY['num_layers'], num_heads=TINY['num_heads'],
              mlp_ratio=TINY['feedforward_channels'] // TINY['embed_dims'], init_values=1.0,
              final_norm=True, norm_cfg=dict(type='LN', eps=1e-6),
              out_indices=[TINY['num_layers'] - 1],
              init_cfg=dict(type='MIMPretrained', checkpoint=path))
    init_default_scope('mmseg')
    try:
        mae.init_weights()
    finally:
        init_default_scope('mmmim')
    mae.eval()
    with torch.no_grad():
        fmap = mae(photo_batch)[0]                                  # [N, C, h, w]
    tokens = fmap.flatten(2).transpose(1, 2)
    torch.testing.assert_close(tokens, reference_tokens[:, 1:], atol=1e-4, rtol=0)


def test_vit_to_mmseg__final_norm_dropped_when_target_has_none(pretrained):
    MAE = import_mmseg_mae()
    _, path = pretrained
    mae = MAE(img_size=IMAGE, patch_size=16, embed_dims=TINY['embed_dims'],
              num_layers=TINY['num_layers'], num_heads=TINY['num_heads'], mlp_ratio=2)
    report = MIMPretrained(path, target='mmseg')(mae)
    assert 'ln1.weight' in report.dropped_on_purpose
    assert any('gamma_1' in k for k in report.expected_missing)
    assert any('relative_position_bias_table' in k for k in report.expected_missing)
    assert not report.missing and not report.unexpected


def test_mimpretrained__non_square_target_grid_resizes_pos_embed(pretrained, photo_batch):
    _, path = pretrained
    vit = tiny_mmpretrain_vit(path, img_size=(96, 64))
    assert vit.pos_embed.shape == (1, 1 + 6 * 4, TINY['embed_dims'])
    # the class token's position is kept exactly
    source = load_weights(path)['state_dict']['encoder.pos_embed']
    torch.testing.assert_close(vit.pos_embed[:, :1], source[:, :1], atol=0, rtol=0)


def test_vit_converters__every_target_converts_every_tensor_of_a_complete_backbone(pretrained):
    _, path = pretrained
    state = load_weights(path)
    names = [n for n in available_converters() if n.startswith('vit->')]
    assert {'vit->timm', 'vit->mmpretrain', 'vit->mmseg', 'vit->mmdet'} <= set(names)
    for name in names:
        converted, report = convert_checkpoint(state, *name.split('->'))
        # 2 stem + cls + pos + 12 per block + final norm (2)
        assert len(converted) == 4 + 12 * TINY['num_layers'] + 2, name
        assert not report.unexpected and not report.missing


def test_vit_converter__stripped_keys_accepted_and_said_so(pretrained):
    model, _ = pretrained
    _, report = convert_checkpoint(model.encoder.state_dict(), 'vit', 'timm')
    assert 'without prefix' in report.source and report.ok


def test_vit_converter__swin_checkpoint_fails_saying_nothing_matched():
    from mmpretrain.models.backbones import SwinTransformer
    swin = SwinTransformer(arch=dict(embed_dims=16, depths=[1, 1], num_heads=[1, 2]),
                           img_size=64, out_indices=(1,))
    ckpt = {'state_dict': {f'backbone.{k}': v for k, v in swin.state_dict().items()}}
    with pytest.raises(ConversionError, match='no backbone tensor matched') as err:
        convert_checkpoint(ckpt, 'vit', 'timm')
    assert 'swin' in str(err.value) and 'unexpected' in str(err.value).lower()


def test_vit_converter__empty_checkpoint_fails():
    with pytest.raises(ConversionError, match='no backbone tensor matched'):
        convert_checkpoint({'state_dict': {}}, 'vit', 'mmpretrain')


def test_vit_converter__already_converted_timm_keys_fail_with_a_hint(pretrained):
    _, path = pretrained
    timm_keys, _ = convert_checkpoint(load_weights(path), 'vit', 'timm')
    with pytest.raises(ConversionError, match='already converted'):
        convert_checkpoint({'model': timm_keys}, 'vit', 'timm')


def test_vit_converter__missing_block_tensor_fails_naming_it(pretrained):
    _, path = pretrained
    state = dict(load_weights(path)['state_dict'])
    del state['encoder.layers.1.attn.proj.weight']
    with pytest.raises(ConversionError, match='only .* matched') as err:
        convert_checkpoint({'state_dict': state}, 'vit', 'timm')
    assert 'layers.1.attn.proj.weight' in str(err.value)


def test_mimpretrained__deeper_target_than_checkpoint_fails(pretrained):
    from mmpretrain.models.backbones import VisionTransformer
    _, path = pretrained
    deeper = VisionTransformer(arch={**TINY, 'num_layers': 3}, img_size=IMAGE, patch_size=16,
                               init_cfg=dict(type='MIMPretrained', checkpoint=path))
    with pytest.raises(ConversionError, match='layers.2'):
        deeper.init_weights()


def test_load_converted__other_encoder_of_same_shape_loads_exactly(tmp_path):
    """A second tiny encoder (another seed) loads tensor for tensor."""
    other = tiny_pretrained_model(seed=1)
    converted, report = get_converter('vit', 'mmpretrain')({'state_dict': other.state_dict()})
    from mmpretrain.models.backbones import VisionTransformer
    vit = VisionTransformer(arch=TINY, img_size=IMAGE, patch_size=16, out_type='raw')
    load_converted(vit, converted, report, get_converter('vit', 'mmpretrain').expected_missing)
    for key, value in other.encoder.state_dict().items():
        torch.testing.assert_close(vit.state_dict()[key], value, atol=0, rtol=0)
