"""RandomStateHook: every global generator's state goes into checkpoints and comes
back on resume (and only on resume)."""
import io
import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch.utils._pytree import tree_map

from mmmim.checkpoint_io import read_checkpoint
from mmmim.engine import RandomStateHook
from mmmim.random_states import (
    capture_random_states,
    preserved_random_states,
    restore_random_states,
)


def draws() -> tuple:
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def test_restore__python_numpy_torch_draw_the_same_again():
    states = capture_random_states()
    first = draws()
    restore_random_states(states)
    assert draws() == first


def test_preserved_random_states__block_leaves_generators_untouched():
    states = capture_random_states()
    with preserved_random_states():
        draws()
    after = draws()
    restore_random_states(states)
    assert draws() == after


def test_hook__checkpoint_round_trip_weights_only_and_resume_only():
    hook = RandomStateHook()
    checkpoint = {}
    hook.before_save_checkpoint(None, checkpoint)
    assert len(checkpoint['random_states']) == 1  # one entry per rank
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)
    expected = draws()

    hook.after_load_checkpoint(SimpleNamespace(_resume=False), loaded)  # load_from
    assert draws() != expected

    runner = SimpleNamespace(_resume=True, logger=SimpleNamespace(info=lambda msg: None))
    hook.after_load_checkpoint(runner, loaded)
    draws()  # anything drawn between loading and training (e.g. a re-seed) ...
    hook.before_train(runner)  # ... is undone right before the first iteration
    assert draws() == expected


class OnAnotherDevice(torch.Tensor):
    """A CPU tensor that says it lives on another device ('meta'), as a state loaded
    with ``map_location='cuda'`` does; only a copy to the CPU reads its data."""

    @staticmethod
    def __new__(cls, data: torch.Tensor):
        return torch.Tensor._make_wrapper_subclass(cls, data.shape, dtype=data.dtype,
                                                   device='meta')

    def __init__(self, data: torch.Tensor):
        self.cpu_data = data

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        if func is torch.ops.aten._to_copy.default and (kwargs or {}).get('device') == \
                torch.device('cpu'):
            return args[0].cpu_data.clone()
        raise NotImplementedError(f'{func} reads a tensor of another device')


def on_another_device(tree):
    """``tree`` with every tensor moved 'off the CPU' (what map_location='cuda' does)."""
    return tree_map(lambda x: OnAnotherDevice(x) if isinstance(x, torch.Tensor) else x, tree)


def test_another_device_state__refused_by_torch_as_on_a_gpu():
    with pytest.raises(TypeError, match='RNG state must be a torch.ByteTensor'):
        torch.set_rng_state(OnAnotherDevice(torch.get_rng_state()))


def test_restore__gpu_loaded_states_reach_the_generators_as_cpu_tensors(monkeypatch):
    cuda_states = [torch.get_rng_state(), torch.get_rng_state()]  # 2 fake devices
    states = on_another_device(dict(capture_random_states(), cuda=cuda_states))
    given = []                                    # what the generators were handed
    set_cpu_state = torch.set_rng_state

    def spy_set_rng_state(state: torch.Tensor) -> None:
        given.append(state)
        set_cpu_state(state)

    monkeypatch.setattr(torch, 'set_rng_state', spy_set_rng_state)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 2)
    monkeypatch.setattr(torch.cuda, 'set_rng_state_all', given.extend)
    expected = draws()
    restore_random_states(states)
    assert draws() == expected
    assert len(given) == 3                        # CPU, then the 2 CUDA devices
    assert all(type(s) is torch.Tensor and s.device.type == 'cpu' for s in given)
    assert all(torch.equal(a, b) for a, b in zip(given[1:], cuda_states))


def test_resume__checkpoint_loaded_onto_a_gpu_restores_the_states(tmp_path):
    hook = RandomStateHook()
    checkpoint = {}
    hook.before_save_checkpoint(None, checkpoint)
    torch.save(checkpoint, tmp_path / 'iter_1.pth')
    loaded = on_another_device(read_checkpoint(tmp_path / 'iter_1.pth', map_location='cpu'))
    assert loaded['random_states'][0]['torch'].device.type == 'meta'
    expected = draws()

    runner = SimpleNamespace(_resume=True, logger=SimpleNamespace(info=lambda msg: None))
    hook.after_load_checkpoint(runner, loaded)
    draws()
    hook.before_train(runner)
    assert draws() == expected
