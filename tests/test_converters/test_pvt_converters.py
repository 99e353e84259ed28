"""PVT converters: our encoder's features reproduced by mmdet's PyramidVisionTransformer
(strided SR convs from our pooled ones) and by the PVT-S fine-tune config's mmpretrain
ImageClassifier (our MaskedPVT, loaded from a UM-MAE checkpoint). Wrong checkpoints:
test_swin_converters.py, for both pyramids."""
from pathlib import Path

import pytest
import torch
from mmengine.registry import init_default_scope

import mmmim.converters  # noqa: F401
import mmmim.models  # noqa: F401
from mmmim.converters import (
    ConversionError,
    MIMPretrained,
    resize_abs_pos_embed,
)
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
    encoder, path = pvt_pretrained
    model = PyramidVisionTransformer(pretrain_img_size=2 * IMAGE, **TINY)
    report = MIMPretrained(path, target='mmdet')(model)
    assert sum('pos_embed resized' in n for n in report.notes) == 4
    assert not report.shape_mismatch and not report.missing
    for ours, theirs in zip(encoder.position_embeddings(), model.layers):
        # each stage through the one resizer (no extra token), to the target's grid
        expected = resize_abs_pos_embed(ours.pos_embed.detach(), tuple(theirs[1][0].pos_shape),
                                        num_extra_tokens=0)
        assert torch.equal(theirs[1][0].pos_embed.detach(), expected)


# --- PVT-S classification (mmpretrain ImageClassifier with our MaskedPVT backbone) ---

ROOT = Path(__file__).resolve().parents[2]
PVT_FINETUNE = ROOT / ('configs/benchmarks/classification/imagenet/'
                       'pvt-small_8xb128-ft-ld0.85-coslr-100e_in1k-256px.py')
UMMAE_PVT = ROOT / 'configs/ummae/ummae_pvt-small_8xb512-amp-coslr-200e_in1k-256px.py'


@pytest.fixture(scope='module')
def ummae_pvt_pretrained(tmp_path_factory):
    """A tiny UM-MAE PVT pretraining model (the shipped config with the tests' tiny
    overrides: encoder, UM-MAE decoder, secondary token), every tensor perturbed,
    saved as a raw pretraining checkpoint. Returns (model, path, input size)."""
    from test_configs import tiny_model_and_size
    model, size = tiny_model_and_size(UMMAE_PVT)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    model.eval()
    path = tmp_path_factory.mktemp('ummae_pvt') / 'ummae_pvt.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {'epoch': 1}}, path)
    return model, str(path), size


def tiny_pvt_classifier(encoder, checkpoint: str, size: int):
    """The PVT-S fine-tune config's ImageClassifier with the tiny encoder's
    dimensions, initialized from ``checkpoint`` by the config's own init_cfg."""
    from mmengine.config import Config
    model = Config.fromfile(str(PVT_FINETUNE)).model.to_dict()
    model['backbone'].update(embed_dims=encoder.embed_dims, num_layers=encoder.num_layers,
                             num_heads=encoder.num_heads, pretrain_img_size=size)
    model['init_cfg']['checkpoint'] = checkpoint
    model['head'].update(num_classes=10, in_channels=encoder.out_dims)
    model['data_preprocessor']['num_classes'] = 10
    classifier = MODELS.build(model)
    classifier.init_weights()
    return classifier.eval()


def test_pvt_to_mmpretrain__ummae_checkpoint_loads_fully_and_classifier_gets_our_features(
        ummae_pvt_pretrained, mmengine_log):
    """Through the config's ``MIMPretrained(submodule='backbone')``: every encoder
    tensor reaches the classifier's backbone (decoder and secondary token dropped on
    purpose), and its feature map is our encoder's plain forward (last stage, final
    norm applied as the original PVT) on real photographs."""
    from photos import photo_tensor
    pretrain, path, size = ummae_pvt_pretrained
    classifier = tiny_pvt_classifier(pretrain.encoder, path, size)
    assert classifier.backbone.init_cfg.get('loaded_by') == 'MIMPretrained'

    log = '\n'.join(mmengine_log)
    assert '[pvt->mmpretrain] load report into MaskedPVT' in log
    assert 'mmmim pretraining checkpoint (encoder.*)' in log
    assert 'status: OK, backbone fully loaded' in log
    report = MIMPretrained(path, submodule='backbone')(classifier)   # the same, as an object
    encoder_keys = {k[len('encoder.'):] for k in pretrain.state_dict() if k.startswith('encoder.')}
    assert set(report.matched) == encoder_keys - {'secondary_token'}
    assert set(report.matched) == set(classifier.backbone.state_dict())
    assert not (report.missing or report.unexpected or report.shape_mismatch
                or report.expected_missing)
    assert report.dropped_on_purpose['secondary_token'].startswith('UM-MAE secondary token')
    decoder = {k for k in pretrain.state_dict() if k.startswith('decoder.')}
    assert decoder and all(report.dropped_on_purpose[k] == 'decoder (pretraining only)'
                           for k in decoder)

    images = photo_tensor(size)
    with torch.no_grad():
        stages = pretrain.encoder(images)                       # plain forward, 4 maps
        last = stages[-1]
        expected = pretrain.encoder.norm(last.flatten(2).transpose(1, 2)) \
            .transpose(1, 2).reshape(last.shape)
        feats = classifier.extract_feat(images, stage='backbone')
        pooled = classifier.extract_feat(images, stage='neck')
    assert isinstance(feats, tuple) and len(feats) == 1
    torch.testing.assert_close(feats[0], expected, atol=1e-4, rtol=0)
    torch.testing.assert_close(pooled[0], expected.mean((2, 3)), atol=1e-4, rtol=0)
    assert not torch.allclose(expected, last, atol=1e-2)         # the final norm mattered


def test_masked_pvt__plain_forward_is_a_tuple_and_out_final_norm_norms_only_the_last_stage(
        pvt_pretrained, photo_batch):
    encoder, _ = pvt_pretrained
    classify = MODELS.build(dict(type='MaskedPVT', pretrain_img_size=IMAGE, **TINY,
                                 out_indices=(2, 3), out_final_norm=True))
    classify.load_state_dict({k: v for k, v in encoder.state_dict().items()
                              if k != 'secondary_token'})
    classify.eval()
    with torch.no_grad():
        plain, normed = encoder(photo_batch), classify(photo_batch)
    assert isinstance(plain, tuple) and len(plain) == 4 and isinstance(normed, tuple)
    torch.testing.assert_close(normed[0], plain[2], atol=1e-6, rtol=0)
    expected = torch.nn.functional.layer_norm(
        plain[3].permute(0, 2, 3, 1), plain[3].shape[1:2], encoder.norm.weight,
        encoder.norm.bias, eps=1e-6).permute(0, 3, 1, 2)
    torch.testing.assert_close(normed[1], expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize('kwargs', [dict(out_indices=(2,)), dict(final_norm=False)])
def test_masked_pvt__out_final_norm_without_a_normed_last_stage_is_refused(kwargs):
    with pytest.raises(ValueError, match='out_final_norm needs'):
        MODELS.build(dict(type='MaskedPVT', pretrain_img_size=IMAGE, **TINY,
                          out_final_norm=True, **kwargs))


def test_pvt_to_mmpretrain__target_without_final_norm_drops_it_on_purpose(pvt_pretrained):
    _, path = pvt_pretrained
    model = MODELS.build(dict(type='MaskedPVT', pretrain_img_size=IMAGE, **TINY,
                              final_norm=False))
    report = MIMPretrained(path, target='mmpretrain')(model)
    assert report.ok and 'norm.weight' in report.dropped_on_purpose


def test_pvt_to_mmpretrain__mmdet_strided_sr_checkpoint_fails_naming_the_shapes(
        pvt_pretrained, tmp_path):
    """An mmdet PVT checkpoint (strided r x r SR kernels) is refused, not half-loaded."""
    from mmdet.models.backbones import PyramidVisionTransformer
    _, path = pvt_pretrained
    mmdet_pvt = PyramidVisionTransformer(pretrain_img_size=IMAGE, **TINY)
    MIMPretrained(path, target='mmdet')(mmdet_pvt)
    mmdet_path = tmp_path / 'mmdet_pvt.pth'
    torch.save({'state_dict': mmdet_pvt.state_dict()}, mmdet_path)
    model = MODELS.build(dict(type='MaskedPVT', pretrain_img_size=IMAGE, **TINY))
    with pytest.raises(ConversionError, match='SHAPE_MISMATCH') as err:
        MIMPretrained(str(mmdet_path), target='mmpretrain')(model)
    assert 'attn.sr.weight' in str(err.value) and 'strided convs' in str(err.value)


def test_pvt_small_finetune_config__recipe_and_layer_decay_over_pvt_s(tmp_path):
    """The config at full size: PVT-S (dims 64/128/320/512, depths 3/4/6/3) with SR
    8/4/2/1 at 256 px, 512 -> 1000 head, and the UM-MAE fine-tune recipe; layer
    decay 0.85 over 16 blocks + stem + top gives 18 distinct lrs."""
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper

    import mmmim.engine  # noqa: F401
    cfg = Config.fromfile(str(PVT_FINETUNE))
    backbone = cfg.model.backbone
    assert backbone.type == 'MaskedPVT' and tuple(backbone.sr_ratios) == (8, 4, 2, 1)
    assert backbone.pretrain_img_size == 256 and backbone.drop_path_rate == 0.1
    assert cfg.model.head.in_channels == 512 and cfg.model.head.num_classes == 1000
    assert cfg.model.head.loss.label_smooth_val == 0.1
    assert [(a.type, a.alpha) for a in cfg.model.train_cfg.augments] == [('Mixup', 0.8),
                                                                          ('CutMix', 1.0)]
    steps = {t.type: t for t in cfg.train_dataloader.dataset.pipeline}
    assert steps['RandomResizedCrop'].scale == 256
    assert steps['RandAugment'].magnitude_level == 9
    assert steps['RandomErasing'].erase_prob == 0.25
    assert cfg.train_dataloader.batch_size * 8 == 1024 == cfg.auto_scale_lr.base_batch_size
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(2e-3)
    assert cfg.optim_wrapper.paramwise_cfg.layer_decay_rate == 0.85
    assert cfg.train_cfg.max_epochs == 100

    model = MODELS.build(cfg.model)            # not initialized: structure only
    assert model.backbone.out_dims == 512 and list(model.backbone.num_layers) == [3, 4, 6, 3]
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    lrs = sorted({g['lr'] for g in optim.optimizer.param_groups})
    assert len(lrs) == 16 + 2
    assert lrs[0] == pytest.approx(lrs[-1] * 0.85 ** 17)
    pos = [n for n, p in model.named_parameters() if n.endswith('pos_embed')]
    assert len(pos) == 4 and all(model.get_parameter(n).requires_grad for n in pos)
