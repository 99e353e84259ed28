"""Configs that say they reproduce a paper carry that paper's settings (issue 12), and
the PixMIM x LocalMIM combination builds and trains."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from tiny_overrides import collect

import mmmim  # noqa: F401
from mmmim.registry import MODELS

CONFIGS = Path(__file__).parents[1] / 'configs'
FINETUNE = CONFIGS / 'benchmarks/classification/imagenet'


def load(path: str) -> Config:
    return Config.fromfile(str(CONFIGS / path))


def filters_of(path: str) -> list:
    return load(path).model['target']['filters']


@pytest.mark.parametrize('path', sorted(
    str(p.relative_to(CONFIGS)) for p in (CONFIGS / 'pixmim').glob('pixmim_*.py')
    if not p.name.endswith('-real.py')))
def test_pixmim_paper_configs__low_pass_takes_the_magnitude(path):
    (lowpass,) = filters_of(path)
    assert lowpass['output'] == 'magnitude' and lowpass['radius'] == 40


def test_pixmim_real_part_config__differs_from_the_paper_config_only_in_the_output():
    paper = load('pixmim/pixmim_vit-base-p16_8xb512-amp-coslr-300e_in1k.py')
    real = load('pixmim/pixmim_vit-base-p16_8xb512-amp-coslr-300e_in1k-real.py')
    assert real.model['target']['filters'][0]['output'] == 'real'
    real.model['target']['filters'][0]['output'] = 'magnitude'
    assert real.to_dict() == paper.to_dict()


@pytest.mark.parametrize('epochs', [100, 800])
def test_simmim_swin_base_192__drop_path_zero_as_simmims_recipe(epochs):
    cfg = load(f'simmim/simmim_swin-base-w6_8xb256-amp-coslr-{epochs}e_in1k-192px.py')
    assert cfg.model['encoder']['drop_path_rate'] == 0.0


@pytest.mark.parametrize('path', [
    'ummae/ummae_swin-tiny-w8_8xb512-amp-coslr-200e_in1k-256px.py',
    'ummae/ummae_swin-large-w8_8xb512-amp-coslr-800e_in1k-256px.py',
    'ummae/ummae_pvt-small_8xb512-amp-coslr-200e_in1k-256px.py'])
def test_ummae_pyramid_configs__use_the_official_init(path):
    assert load(path).model['encoder']['weight_init'] == 'ummae'


def lr_schedule(cfg: Config):
    warm, cosine = cfg.param_scheduler
    return warm['end'], cosine['eta_min'], cosine['end']


@pytest.mark.parametrize('name, lr, decay, warm, min_lr, batch', [
    ('localmim_vit-base-p16_8xb128-ft-ld0.65-coslr-100e_in1k.py', 2e-3, 0.65, 20, 1e-5, 1024),
    ('localmim_vit-base-p16_8xb128-ft-ld0.75-coslr-100e_in1k-pt100e.py',
     4e-3, 0.75, 20, 1e-6, 1024),
    ('localmim_swin-base-w7_8xb128-ft-ld0.9-coslr-100e_in1k.py', 4e-3, 0.9, 20, 2.5e-7, 1024),
    ('localmim_swin-base-w7_8xb128-ft-ld0.9-coslr-100e_in1k-pt100e.py',
     5e-3, 0.9, 20, 2.5e-7, 1024)])
def test_localmim_finetune_configs__official_recipes(name, lr, decay, warm, min_lr, batch):
    cfg = Config.fromfile(str(FINETUNE / name))
    assert cfg.optim_wrapper['optimizer']['lr'] == pytest.approx(lr)
    assert cfg.optim_wrapper['paramwise_cfg']['layer_decay_rate'] == decay
    assert lr_schedule(cfg) == (warm, pytest.approx(min_lr), 100)
    assert cfg.train_dataloader['batch_size'] * 8 == batch == cfg.auto_scale_lr['base_batch_size']
    assert cfg.model['backbone']['drop_path_rate'] == 0.1


def test_localmim_pixmim__low_pass_in_front_of_every_pixel_scale_trains(photo_batch):
    cfg = load('localmim/localmim_pixmim_swin-base-w7_8xb256-amp-coslr-100e_in1k.py')
    assert cfg.train_pipeline[0]['type'] == 'LoadAndConservativeCrop'
    model_cfg = cfg.model.to_dict()
    overrides = collect()
    overrides['MaskedSwin'](model_cfg['encoder'])
    size = model_cfg['encoder'].pop('input_size')
    for level in model_cfg['levels']:
        overrides['LocalMIMDecoder'](level['decoder'])
    init_default_scope('mmmim')
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    model.init_weights()
    (lowpass,) = model.target.filters
    assert lowpass.output == 'magnitude'
    assert torch.equal(lowpass.std.flatten(), torch.tensor([58.395, 57.12, 57.375]))
    images = torch.nn.functional.interpolate(photo_batch, size=(size, size), mode='bilinear')
    losses = model(images, mode='loss')
    assert set(losses) == {'loss_pix8', 'loss_pix16', 'loss_pix32_merged2', 'loss_pix32_out'}
    sum(losses.values()).backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
