"""mmmim's optimizer wrappers run Adam / AdamW with the fused kernel where the config
left the implementation unset, with the same updates as torch's per-parameter loop;
every pretraining config gets it."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from photos import photo_tensor
from torch import nn

from mmmim.engine.optimizers import GuardedAmpOptimWrapper, GuardedOptimWrapper
from mmmim.engine.optimizers.fused_step import fused_supported, prefer_fused_step

PRETRAINING_CONFIGS = sorted(
    str(p) for family in ('demo', 'localmim', 'mae', 'pixmim', 'simmim', 'ummae')
    for p in (Path(__file__).resolve().parents[2] / 'configs' / family).glob('*.py'))
needs_fused_cpu = pytest.mark.skipif(
    not fused_supported(torch.optim.AdamW([nn.Parameter(torch.zeros(1))])),
    reason='this torch has no fused Adam kernel for the CPU (torch < 2.4)')


def tiny_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 4, stride=4), nn.GELU(), nn.Flatten(),
                         nn.LayerNorm(8 * 16 * 16), nn.Linear(8 * 16 * 16, 3))


def train(wrapper_type: str, steps: int = 3, **optimizer) -> tuple:
    """Parameters after ``steps`` AdamW steps on photographs, and the wrapper."""
    model = tiny_net()
    wrapper = build_optim_wrapper(model, dict(
        type=wrapper_type, optimizer=dict(type='AdamW', lr=1e-2, betas=(0.9, 0.95),
                                          weight_decay=0.05, **optimizer)))
    images = photo_tensor(64)
    for _ in range(steps):
        loss = (model(images) - images.mean((2, 3))).square().mean()
        wrapper.update_params(loss)
    return [p.detach().clone() for p in model.parameters()], wrapper


@needs_fused_cpu
@pytest.mark.parametrize('wrapper_type', ['mmmim.GuardedOptimWrapper',
                                          'mmmim.GuardedAmpOptimWrapper'])
def test_wrappers_step_adamw_fused_with_the_loop_updates(wrapper_type):
    fused_params, wrapper = train(wrapper_type)
    assert isinstance(wrapper, (GuardedOptimWrapper, GuardedAmpOptimWrapper))
    assert all(group['fused'] for group in wrapper.optimizer.param_groups)
    loop_params, loop_wrapper = train('OptimWrapper')          # mmengine's: the loop
    assert not loop_wrapper.optimizer.param_groups[0]['fused']
    for fused, loop in zip(fused_params, loop_params):
        torch.testing.assert_close(fused, loop, atol=1e-6, rtol=1e-5)
    moved = max((a - b).abs().max() for a, b in zip(fused_params, tiny_net().parameters()))
    assert moved > 1e-3                                        # the steps did update


def test_explicit_implementation_and_opt_out_are_kept():
    _, wrapper = train('mmmim.GuardedOptimWrapper', steps=1, foreach=False)
    assert wrapper.optimizer.param_groups[0]['fused'] is None
    _, wrapper = train('mmmim.GuardedOptimWrapper', steps=1, fused=False)
    assert wrapper.optimizer.param_groups[0]['fused'] is False
    model = tiny_net()
    wrapper = build_optim_wrapper(model, dict(type='mmmim.GuardedOptimWrapper',
                                              fused_step=False,
                                              optimizer=dict(type='AdamW', lr=1e-3)))
    assert wrapper.optimizer.param_groups[0]['fused'] is None


def test_other_optimizers_are_left_as_built():
    sgd = torch.optim.SGD(tiny_net().parameters(), lr=0.1)
    assert not prefer_fused_step(sgd)
    assert sgd.param_groups[0]['fused'] is None


@needs_fused_cpu
def test_resuming_a_loop_checkpoint_keeps_the_fused_step():
    _, loop_wrapper = train('OptimWrapper', steps=1)
    _, wrapper = train('mmmim.GuardedOptimWrapper', steps=1)
    wrapper.load_state_dict(loop_wrapper.state_dict())    # its groups say fused=None
    assert wrapper.optimizer.param_groups[0]['fused'] is True


@needs_fused_cpu
def test_resuming_a_foreach_checkpoint__the_scaler_steps_the_foreach_groups():
    """A checkpoint whose groups say ``foreach=True`` keeps that implementation, so
    ``GradScaler`` must no longer hand the optimizer its scale (the foreach step
    refuses it: "Expected grad_scale and found_inf to be None")."""
    _, foreach_wrapper = train('OptimWrapper', steps=1, foreach=True)
    _, wrapper = train('mmmim.GuardedOptimWrapper', steps=1)
    assert wrapper.optimizer._step_supports_amp_scaling           # fused: it takes it
    wrapper.load_state_dict(foreach_wrapper.state_dict())
    optimizer = wrapper.optimizer
    assert optimizer.param_groups[0]['foreach'] and not optimizer.param_groups[0]['fused']
    assert not optimizer._step_supports_amp_scaling
    params = [p for g in optimizer.param_groups for p in g['params']]
    before = [p.detach().clone() for p in params]
    scaler = torch.amp.GradScaler('cpu', init_scale=8.)        # fp16's loss scaling
    loss = sum(p.square().sum() for p in params)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    assert any(not torch.equal(a, b) for a, b in zip(before, params))


@needs_fused_cpu
def test_resuming_a_fused_checkpoint__the_scaler_still_hands_over_its_scale():
    _, saved = train('mmmim.GuardedOptimWrapper', steps=1)
    _, wrapper = train('mmmim.GuardedOptimWrapper', steps=1)
    wrapper.load_state_dict(saved.state_dict())              # its groups say fused=True
    assert wrapper.optimizer.param_groups[0]['fused'] is True
    assert wrapper.optimizer._step_supports_amp_scaling


@needs_fused_cpu
@pytest.mark.parametrize('config', PRETRAINING_CONFIGS, ids=lambda p: Path(p).name)
def test_pretraining_configs__their_adamw_runs_the_fused_step(config):
    cfg = Config.fromfile(config)
    with DefaultScope.overwrite_default_scope('mmmim'):
        wrapper = build_optim_wrapper(tiny_net(), cfg.optim_wrapper)
    assert type(wrapper.optimizer) is torch.optim.AdamW
    assert all(group['fused'] for group in wrapper.optimizer.param_groups)
    assert wrapper.optimizer._step_supports_amp_scaling
