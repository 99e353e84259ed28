"""PVT converter: our encoder's features reproduced by mmdet's PyramidVisionTransformer
(strided SR convs from our pooled ones); wrong checkpoints fail."""
import pytest
import torch
from mmengine.registry import init_default_scope

import mmmim.converters  # noqa: F401
import mmmim.models  # noqa: F401
from mmmim.converters import ConversionError, MIMPretrained, convert_checkpoint, load_weights
from mmmim.registry import MODELS

init_default_scope('mmmim')
TINY = dict(embed_dims=8, num_layers=[1, 2, 1, 1], num_heads=[1, 2, 2, 4])
IMAGE = 64


@pytest.fixture(scope='module')
def pvt_pretrained(tmp_path_factory):
    torch.manual_seed(0)
    encoder = MODELS.build(dict(type='MaskedPVT', pretrain_img_size=IMAGE, secondary_token=True,
                                **TINY))
    encoder.init_weights()
    with torch.no_grad():
        for p in encoder.parameters():
            p.add_(0.05 * torch.randn_like(p))
    encoder.eval()
    state = {f'encoder.{k}': v for k, v in encoder.state_dict().items()}
    state['decoder.proj.weight'] = torch.zeros(4, 4)
    path = tmp_path_factory.mktemp('pvt') / 'pvt.pth'
    torch.save({'state_dict': state}, path)
    return encoder, str(path)


def test_pvt_to_mmdet__mmdet_pvt_gets_our_features(pvt_pretrained, photo_batch):
    """mmdet's PVT loads files itself (any init_cfg with a checkpoint), so the
    initializer is applied directly, as convert.py + mmdet's Pretrained would."""
    from mmdet.models.backbones import PyramidVisionTransformer
    encoder, path = pvt_pretrained
    model = PyramidVisionTransformer(pretrain_img_size=IMAGE, **TINY)
    report = MIMPretrained(path, target='mmdet')(model)
    assert 'norm.weight' in report.dropped_on_purpose
    assert 'secondary_token' in report.dropped_on_purpose
    model.eval()
    with torch.no_grad():
        ours, theirs = encoder(photo_batch), model(photo_batch)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(b, a, atol=1e-4, rtol=0)


def test_pvt_to_mmdet__larger_target_resizes_every_stage_position_grid(pvt_pretrained):
    from mmdet.models.backbones import PyramidVisionTransformer
    _, path = pvt_pretrained
    model = PyramidVisionTransformer(pretrain_img_size=2 * IMAGE, **TINY)
    report = MIMPretrained(path, target='mmdet')(model)
    assert sum('pos_embed resized' in n for n in report.notes) == 4
    assert not report.shape_mismatch and not report.missing


def test_pvt_converter__swin_or_vit_checkpoint_fails(pretrained):
    _, path = pretrained
    with pytest.raises(ConversionError, match='no backbone tensor matched') as err:
        convert_checkpoint(load_weights(path), 'pvt', 'mmdet')
    assert 'vit' in str(err.value)


def test_pvt_converter__missing_block_tensor_fails_naming_it(pvt_pretrained):
    _, path = pvt_pretrained
    state = dict(load_weights(path)['state_dict'])
    del state['encoder.layers.1.1.2.attn.attn.in_proj_weight']
    with pytest.raises(ConversionError, match='layers.1.1.2.attn.attn.in_proj_weight'):
        convert_checkpoint({'state_dict': state}, 'pvt', 'mmdet')
