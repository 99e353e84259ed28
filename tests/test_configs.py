"""Contract over every shipped pretraining config: with a tiny architecture it
builds, gives a finite loss on real photographs, and every trainable parameter
receives a gradient."""
import copy
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from tiny_overrides import collect, shrink

import mmmim  # noqa: F401
from mmmim.registry import MODELS

CONFIG_ROOT = Path(__file__).parents[1] / 'configs'
PRETRAIN_CONFIGS = sorted(
    p for p in CONFIG_ROOT.rglob('*.py')
    if '_base_' not in p.parts and 'benchmarks' not in p.parts)
OVERRIDES = collect()


def tiny_model_and_size(config_path: Path):
    cfg = Config.fromfile(str(config_path))
    model_cfg = copy.deepcopy(cfg.model.to_dict() if hasattr(cfg.model, 'to_dict') else cfg.model)
    sizes: list = []
    shrink(model_cfg, sizes, OVERRIDES)
    init_default_scope(cfg.get('default_scope', 'mmmim'))
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    model.init_weights()
    return model, (sizes[0] if sizes else 64)


def test_every_pretrain_config_is_covered():
    assert len(PRETRAIN_CONFIGS) >= 6, PRETRAIN_CONFIGS


@pytest.mark.parametrize('config_path', PRETRAIN_CONFIGS,
                         ids=[str(p.relative_to(CONFIG_ROOT)) for p in PRETRAIN_CONFIGS])
def test_config__tiny_model_finite_loss_and_every_param_gets_grad(config_path, photo_batch):
    model, size = tiny_model_and_size(config_path)
    images = torch.nn.functional.interpolate(photo_batch, size=(size, size), mode='bilinear')
    losses = model(images, mode='loss')
    total = sum(v for k, v in losses.items() if k.startswith('loss'))
    assert torch.isfinite(total), losses
    total.backward()
    no_grad = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not no_grad, f'{config_path.name}: no gradient for {no_grad}'
