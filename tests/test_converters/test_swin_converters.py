"""Swin converters: features of our encoder reproduced by timm's, mmpretrain's and
mmdet's Swin on real photographs; patch-merging channel order; bias-table resizing;
wrong checkpoints, for both pyramids (Swin and PVT)."""
import pytest
import torch
from mmengine.registry import init_default_scope
from test_converters.test_pvt_converters import pvt_pretrained  # noqa: F401 (a fixture)

import mmmim.converters  # noqa: F401
import mmmim.models  # noqa: F401
from mmmim.converters import (
    ConversionError,
    MIMPretrained,
    convert_checkpoint,
    load_weights,
    resize_rel_pos_bias_table,
)
from mmmim.converters.swin import merging_permutation
from mmmim.registry import MODELS

init_default_scope('mmmim')
ARCH = dict(embed_dims=16, depths=[2, 2], num_heads=[1, 2])
IMAGE, WINDOW = 64, 4


@pytest.fixture(scope='module')
def swin_pretrained(tmp_path_factory):
    """A tiny MaskedSwin with every tensor perturbed, saved as a raw pretraining
    checkpoint (``encoder.*`` plus a decoder tensor)."""
    torch.manual_seed(0)
    encoder = MODELS.build(dict(type='MaskedSwin', arch=ARCH, img_size=IMAGE,
                                window_size=WINDOW, out_indices=(1,), secondary_token=True))
    encoder.init_weights()
    with torch.no_grad():
        for p in encoder.parameters():
            p.add_(0.05 * torch.randn_like(p))
    encoder.eval()
    state = {f'encoder.{k}': v for k, v in encoder.state_dict().items()}
    state['decoder.proj.weight'] = torch.zeros(4, 4)
    path = tmp_path_factory.mktemp('swin') / 'swin.pth'
    torch.save({'state_dict': state}, path)
    return encoder, str(path)


@pytest.fixture(scope='module')
def swin_reference(swin_pretrained, photo_batch):
    encoder, _ = swin_pretrained
    with torch.no_grad():
        return encoder(photo_batch)[-1]                              # [N, C, h, w]


def test_swin_to_timm__no_missing_or_unexpected_keys_and_same_features(
        swin_pretrained, swin_reference, photo_batch):
    from timm.models.swin_transformer import SwinTransformer
    _, path = swin_pretrained
    converted, report = convert_checkpoint(load_weights(path), 'swin', 'timm')
    model = SwinTransformer(img_size=IMAGE, patch_size=4, window_size=WINDOW,
                            embed_dim=ARCH['embed_dims'], depths=ARCH['depths'],
                            num_heads=ARCH['num_heads'], num_classes=10).eval()
    missing, unexpected = model.load_state_dict(converted, strict=False)
    assert sorted(missing) == ['head.fc.bias', 'head.fc.weight'] and unexpected == []
    assert 'secondary_token' in report.dropped_on_purpose
    with torch.no_grad():
        feats = model.forward_features(photo_batch).permute(0, 3, 1, 2)
    torch.testing.assert_close(feats, swin_reference, atol=1e-4, rtol=0)


def test_mimpretrained__mmpretrain_swin_gets_our_features(swin_pretrained, swin_reference,
                                                          photo_batch):
    from mmpretrain.models.backbones import SwinTransformer
    _, path = swin_pretrained
    model = SwinTransformer(arch=ARCH, img_size=IMAGE, window_size=WINDOW, out_indices=(1,),
                            init_cfg=dict(type='MIMPretrained', checkpoint=path))
    model.init_weights()
    model.eval()
    with torch.no_grad():
        feats = model(photo_batch)[-1]
    torch.testing.assert_close(feats, swin_reference, atol=1e-4, rtol=0)


def test_swin_to_mmdet__mmdet_swin_gets_our_features(swin_pretrained, swin_reference,
                                                     photo_batch):
    """mmdet's Swin loads files itself (any init_cfg with a checkpoint), so the
    initializer is applied directly here, as convert.py + mmdet's Pretrained would."""
    from mmdet.models.backbones import SwinTransformer
    _, path = swin_pretrained
    model = SwinTransformer(pretrain_img_size=IMAGE, embed_dims=ARCH['embed_dims'],
                            depths=ARCH['depths'], num_heads=ARCH['num_heads'],
                            strides=(4, 2), window_size=WINDOW, out_indices=(0, 1),
                            convert_weights=False)
    report = MIMPretrained(path, target='mmdet')(model)
    new = sorted(k for k in report.expected_missing if 'relative_position_index' not in k)
    assert new == ['norm0.bias', 'norm0.weight']     # output norm of the extra out stage
    model.eval()
    with torch.no_grad():
        feats = model(photo_batch)[-1]
    torch.testing.assert_close(feats, swin_reference, atol=1e-4, rtol=0)


def test_merging_permutation__maps_unfold_order_to_concatenation_order():
    """A 2x2 neighbourhood of C channels: mm unfolds (c, offset) channel-major,
    timm concatenates x[0::2,0::2], x[1::2,0::2], x[0::2,1::2], x[1::2,1::2]."""
    c = 3
    x = torch.randn(1, c, 2, 2)
    mm = torch.nn.functional.unfold(x, kernel_size=2, stride=2)[0, :, 0]           # [4C]
    timm = torch.cat([x[0, :, 0, 0], x[0, :, 1, 0], x[0, :, 0, 1], x[0, :, 1, 1]])
    assert torch.equal(mm[merging_permutation(c)], timm)


def test_resize_rel_pos_bias_table__window_change_shape_and_identity():
    table = torch.randn((2 * 7 - 1) ** 2, 3)
    assert resize_rel_pos_bias_table(table, (7, 7)) is table
    assert resize_rel_pos_bias_table(table, (12, 12)).shape == ((2 * 12 - 1) ** 2, 3)


def test_mimpretrained__swin_window_change_resizes_tables(swin_pretrained):
    from mmpretrain.models.backbones import SwinTransformer
    _, path = swin_pretrained
    model = SwinTransformer(arch=ARCH, img_size=2 * IMAGE, window_size=2 * WINDOW,
                            out_indices=(1,))
    report = MIMPretrained(path, target='mmpretrain')(model)
    assert any('bias table resized' in n for n in report.notes)
    assert not report.missing and not report.shape_mismatch


#: pyramid family -> (its checkpoint fixture, a target library, a tensor it must have)
PYRAMIDS = {
    'swin': ('swin_pretrained', 'timm', 'encoder.stages.0.downsample.reduction.weight'),
    'pvt': ('pvt_pretrained', 'mmdet', 'encoder.layers.1.1.2.attn.attn.in_proj_weight'),
}


@pytest.mark.parametrize('family', PYRAMIDS)
def test_pyramid_converter__vit_checkpoint_fails_saying_nothing_matched(family, pretrained):
    _, target, _ = PYRAMIDS[family]
    _, path = pretrained
    with pytest.raises(ConversionError, match='no backbone tensor matched') as err:
        convert_checkpoint(load_weights(path), family, target)
    assert 'vit' in str(err.value)


@pytest.mark.parametrize('family', PYRAMIDS)
def test_pyramid_converter__missing_tensor_fails_naming_it(family, request):
    fixture, _, removed = PYRAMIDS[family]
    _, path = request.getfixturevalue(fixture)
    state = dict(load_weights(path)['state_dict'])
    del state[removed]
    with pytest.raises(ConversionError, match=removed.removeprefix('encoder.')):
        convert_checkpoint({'state_dict': state}, family, 'mmdet')
