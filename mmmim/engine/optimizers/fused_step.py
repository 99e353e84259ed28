"""The multi-tensor (fused) Adam / AdamW step as the default of mmmim's wrappers.

torch's Adam and AdamW pick their implementation from ``fused`` and ``foreach``; left
unset (``None``, the configs' case) they take the ``foreach`` one on CUDA but the
per-parameter Python loop on the CPU, about ten element-wise kernels per parameter
per step (5-12% of a MAE ViT-B training step on 2 CPU cores, docs/benchmark_log.md).
The fused kernel does the same update in one pass over each parameter, on CUDA and,
from torch 2.4, on the CPU. The update is the same arithmetic (tested equal to the
loop within float rounding); a config that sets ``fused`` or ``foreach`` itself, or
an optimizer that is not Adam / AdamW, is left as built.
"""
from typing import Dict

import torch
from torch.optim import Adam, AdamW, Optimizer


def fused_supported(optimizer: Optimizer) -> bool:
    """True when every parameter is a floating-point tensor on a device with a fused
    Adam kernel (CUDA; the CPU from torch 2.4)."""
    try:
        from torch.optim.optimizer import _get_fused_kernels_supported_devices
        devices = set(_get_fused_kernels_supported_devices())
    except ImportError:                       # torch without fused kernels
        return False
    params = [p for group in optimizer.param_groups for p in group['params']]
    return bool(params) and all(
        p.device.type in devices and torch.is_floating_point(p) for p in params)


def prefer_fused_step(optimizer: Optimizer) -> bool:
    """Switch an Adam / AdamW whose parameter groups left ``fused`` and ``foreach``
    unset to the fused step when :func:`fused_supported`; returns whether it did.
    Changes only the implementation flag (``fused`` in every group and the
    defaults)."""
    if type(optimizer) not in (Adam, AdamW) or not fused_supported(optimizer):
        return False
    groups = optimizer.param_groups
    if any(g.get('fused') is not None or g.get('foreach') is not None
           or g.get('differentiable') or g.get('capturable') for g in groups):
        return False
    for group in (*groups, optimizer.defaults):
        group['fused'] = True
    optimizer._step_supports_amp_scaling = True     # GradScaler hands it its scale
    return True


def match_amp_scaling_to_groups(optimizer: Optimizer) -> None:
    """Let ``GradScaler`` hand an Adam / AdamW its scale and ``found_inf`` only when
    every parameter group runs the fused kernel: the other implementations refuse
    them ("Expected grad_scale and found_inf to be None"). For after a state dict
    is loaded, whose groups carry the implementation they were saved with."""
    if type(optimizer) in (Adam, AdamW):
        optimizer._step_supports_amp_scaling = all(
            g.get('fused') for g in optimizer.param_groups)


class FusedStepMixin:
    """Mixed into mmmim's optimizer wrappers (before ``OptimWrapper`` in the bases):
    :func:`prefer_fused_step` on the built optimizer, and again after loading a
    state dict (a checkpoint's groups carry the flags they were saved with); when a
    loaded checkpoint keeps its own implementation (``foreach=True``, say), the
    scaler hand-over follows it (:func:`match_amp_scaling_to_groups`)."""

    def _init_fused_step(self, fused_step: bool) -> None:
        self.fused_step = fused_step
        if fused_step:
            prefer_fused_step(self.optimizer)

    def load_state_dict(self, state_dict: Dict, *args, **kwargs) -> None:
        super().load_state_dict(state_dict, *args, **kwargs)
        if getattr(self, 'fused_step', False) and not prefer_fused_step(self.optimizer):
            match_amp_scaling_to_groups(self.optimizer)

