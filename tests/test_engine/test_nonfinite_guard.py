"""GuardedOptimWrapper / GuardedAmpOptimWrapper: a non-finite loss skips the step
and is reported with its iteration; a run of them stops training, leaving the last
good checkpoint on disk."""
import math

import pytest
import torch
from engine_doubles import TestParamSnapshotHook
from engine_runs import build, checkpoints, log_text, run, tiny_demo_cfg, train
from mmengine.logging import MessageHub
from torch import nn

from mmmim.engine import GuardedAmpOptimWrapper, GuardedOptimWrapper

WRAPPERS = [GuardedOptimWrapper, GuardedAmpOptimWrapper]


def linear_and_wrapper(wrapper_type, **kwargs):
    torch.manual_seed(0)
    model = nn.Linear(4, 2)
    wrapper = wrapper_type(optimizer=torch.optim.AdamW(model.parameters(), lr=0.1), **kwargs)
    return model, wrapper


def loss_of(model, wrapper, scale: float = 1.0) -> torch.Tensor:
    with wrapper.optim_context(model):
        return model(torch.ones(3, 4)).float().pow(2).mean() * scale


@pytest.mark.parametrize('wrapper_type', WRAPPERS, ids=lambda t: t.__name__)
def test_nonfinite_loss__step_skipped_grads_dropped_iteration_reported(wrapper_type,
                                                                       mmengine_log):
    model, wrapper = linear_and_wrapper(wrapper_type)
    MessageHub.get_current_instance().update_info('iter', 6)  # 0-based: iteration 7
    before = [p.detach().clone() for p in model.parameters()]
    wrapper.update_params(loss_of(model, wrapper, float('nan')))
    assert all(torch.equal(a, p) for a, p in zip(before, model.parameters()))
    assert all(p.grad is None or not p.grad.any() for p in model.parameters())
    assert wrapper.optimizer.state == {}  # AdamW never stepped
    warning = [m for m in mmengine_log if 'Non-finite loss' in m]
    assert warning and 'iteration 7' in warning[0] and 'nan' in warning[0]

    wrapper.update_params(loss_of(model, wrapper))  # a finite loss steps again
    assert not all(torch.equal(a, p) for a, p in zip(before, model.parameters()))
    assert wrapper.consecutive_nonfinite == 0


@pytest.mark.parametrize('wrapper_type', WRAPPERS, ids=lambda t: t.__name__)
def test_consecutive_nonfinite_losses__stop_with_a_message(wrapper_type):
    model, wrapper = linear_and_wrapper(wrapper_type, max_consecutive_nonfinite=3)
    MessageHub.get_current_instance().update_info('iter', 0)
    for value in (float('inf'), float('nan'), 1.0, float('nan'), float('nan')):
        wrapper.update_params(loss_of(model, wrapper, value))  # never 3 in a row
    with pytest.raises(RuntimeError, match='3 consecutive non-finite losses'):
        wrapper.update_params(loss_of(model, wrapper, float('inf')))


def test_nonfinite_losses_in_a_run__skipped_then_stopped_last_checkpoint_good(
        small_photos_dir, tmp_path):
    """The demo config, its loss made NaN from the third iteration on (0-based 2),
    ``max_consecutive_nonfinite=3``, a checkpoint every iteration. Iterations 3 and 4
    (1-based) are skipped and reported; iteration 5 stops the run without writing
    iter_5.pth; iter_4.pth is loadable, finite and holds the weights of iteration 2,
    the last good step."""
    cfg = tiny_demo_cfg(small_photos_dir, tmp_path, ckpt_interval=1, **{
        'model.loss': dict(type='TestNaNLoss', nan_iters=list(range(2, 100))),
        'optim_wrapper.max_consecutive_nonfinite': 3})
    params = TestParamSnapshotHook()
    runner = build(cfg, [params])
    with pytest.raises(RuntimeError, match=r'3 consecutive non-finite losses, the last at '
                       r'iteration 5'):
        train(runner)

    assert not torch.equal(params.before[1], params.after[1])  # a finite step
    for it in (2, 3):  # NaN: skipped, weights untouched
        assert torch.equal(params.before[it], params.after[it])
    log = log_text(runner)
    assert 'Non-finite loss at iteration 3' in log and 'Non-finite loss at iteration 4' in log

    assert checkpoints(tmp_path) == [f'iter_{i}.pth' for i in range(1, 5)]
    state = torch.load(tmp_path / 'iter_4.pth')['state_dict']  # weights_only load
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())
    weights = torch.cat([state[n].flatten() for n, _ in runner.model.named_parameters()])
    assert torch.equal(weights, params.after[1])


def test_amp_run_on_cpu__bfloat16_finite_losses(small_photos_dir, tmp_path):
    """``GuardedAmpOptimWrapper(dtype='auto')`` trains on the CPU in bfloat16."""
    runner = run(tiny_demo_cfg(small_photos_dir, tmp_path, max_epochs=1, **{
        'optim_wrapper.type': 'GuardedAmpOptimWrapper', 'optim_wrapper.dtype': 'auto'}))
    assert runner.optim_wrapper.cast_dtype == torch.bfloat16
    losses = runner.message_hub.get_scalar('train/loss').data[0]
    assert len(losses) == 3 and all(math.isfinite(v) for v in losses)
