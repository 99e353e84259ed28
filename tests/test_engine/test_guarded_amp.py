"""GuardedAmpOptimWrapper: dtype 'auto' and loss scaling per device."""
import pytest
import torch
from torch import nn

from mmmim.engine import GuardedAmpOptimWrapper, resolve_amp_dtype


def fake_cuda(monkeypatch, bf16: bool) -> None:
    """A CUDA device with native bfloat16 (A100, H100) or without (V100, T4: torch
    still reports bfloat16 as supported unless emulation is excluded)."""
    def is_bf16_supported(including_emulation: bool = True) -> bool:
        return bf16 or including_emulation

    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', is_bf16_supported)


def test_auto_dtype__bf16_on_cpu_and_native_bf16_gpus_fp16_on_emulating_gpus(monkeypatch):
    assert resolve_amp_dtype('auto') == torch.bfloat16  # this machine: no CUDA
    fake_cuda(monkeypatch, bf16=True)
    assert resolve_amp_dtype('auto') == torch.bfloat16
    fake_cuda(monkeypatch, bf16=False)
    assert resolve_amp_dtype('auto') == torch.float16


def test_explicit_dtype__fp16_refused_on_cpu_and_fp32_refused():
    assert resolve_amp_dtype('bfloat16') == torch.bfloat16
    with pytest.raises(ValueError, match='CUDA'):
        resolve_amp_dtype('float16')
    with pytest.raises(ValueError, match='auto'):
        resolve_amp_dtype('float32')


def wrapper(**kwargs) -> GuardedAmpOptimWrapper:
    model = nn.Linear(4, 2)
    return GuardedAmpOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                                  **kwargs)


def test_loss_scaling__dynamic_for_fp16_none_for_bf16(monkeypatch):
    assert not wrapper(dtype='auto').loss_scaler.is_enabled()  # bf16 on the CPU
    fake_cuda(monkeypatch, bf16=False)
    fp16 = wrapper(dtype='auto')
    assert fp16.cast_dtype == torch.float16 and fp16.loss_scaler.is_enabled()
    assert fp16._scale_update_param is None  # dynamic
    fixed = wrapper(dtype='float16', loss_scale=512.)
    assert fixed._scale_update_param == 512.


def test_cpu_autocast__bf16_matmuls_and_state_round_trip():
    model = nn.Linear(4, 2)
    amp = GuardedAmpOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    with amp.optim_context(model):
        out = model(torch.ones(1, 4))
    assert out.dtype == torch.bfloat16
    amp.update_params(out.float().sum())
    state = amp.state_dict()
    other = GuardedAmpOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    other.load_state_dict(state)  # a bf16 checkpoint: empty scaler state is fine
    assert other.optimizer.state_dict()['param_groups'] == state['param_groups']
