"""Optimizer wrappers that refuse to step on a non-finite loss.

A MAE-family run that diverges (typically under fp16) produces a NaN or inf loss.
Stepping on it poisons the weights and, one checkpoint interval later, the checkpoint.
The guarded wrappers always run backward (every rank must, or DDP's gradient
all-reduce hangs), then agree across ranks whether the loss was finite; when it was
not they log the iteration and the loss, drop the gradients and skip the step. After
``max_consecutive_nonfinite`` such iterations in a row they raise, inside the failing
iteration, so no checkpoint of it is written and the last good one stays on disk.
"""
import logging
from typing import Dict, Optional, Tuple, Union

import torch
from mmengine.dist import all_reduce
from mmengine.logging import MessageHub, print_log
from mmengine.optim import AmpOptimWrapper, OptimWrapper

from mmmim.registry import OPTIM_WRAPPERS

from .fused_step import FusedStepMixin

AMP_DTYPES = ('float16', 'bfloat16')


class NonFiniteLossGuardMixin:
    """``update_params`` that skips the optimizer step when any rank's loss is not
    finite. Mixed into :class:`OptimWrapper` subclasses (before them in the bases)."""

    def _init_guard(self, max_consecutive_nonfinite: int) -> None:
        if max_consecutive_nonfinite < 1:
            raise ValueError('max_consecutive_nonfinite must be >= 1, got '
                             f'{max_consecutive_nonfinite}')
        self.max_consecutive_nonfinite = max_consecutive_nonfinite
        self.consecutive_nonfinite = 0

    @torch.compiler.disable
    def update_params(self, loss: torch.Tensor, step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None) -> None:
        """Backward, then step and zero the gradients (at accumulation boundaries)
        only if the loss is finite on every rank.

        Never traced by TorchDynamo: mmengine's ``compile=True`` compiles the
        model's ``train_step`` (under DDP, ``MMDistributedDataParallel``'s), which
        calls this; Dynamo fails on the optimizer's parameter groups. The forward
        is compiled; backward, the finite check and the step run eagerly."""
        self.backward(self.scale_loss(loss))
        if not loss_is_finite_on_all_ranks(loss):
            self._skip_nonfinite(loss, zero_kwargs or {})
            return
        self.consecutive_nonfinite = 0
        if self.should_update():
            self.step(**(step_kwargs or {}))
            self.zero_grad(**(zero_kwargs or {}))

    def _skip_nonfinite(self, loss: torch.Tensor, zero_kwargs: Dict) -> None:
        """Drop the gradients (the accumulated ones too), report, and stop the run
        after too many non-finite losses in a row."""
        self.zero_grad(**zero_kwargs)
        self.consecutive_nonfinite += 1
        where = f'at iteration {current_iteration()} (1-based, as in the log)'
        value = f'loss on this rank {loss.detach().float().item():.6g}'
        if self.consecutive_nonfinite >= self.max_consecutive_nonfinite:
            raise RuntimeError(
                f'{self.consecutive_nonfinite} consecutive non-finite losses, the last '
                f'{where} ({value}): stopping the run. This iteration wrote no '
                'checkpoint; the latest one in the work dir holds the last good weights.')
        print_log(
            f'Non-finite loss {where} ({value}): skipped the optimizer step '
            f'({self.consecutive_nonfinite} in a row; the run stops at '
            f'{self.max_consecutive_nonfinite}).', logger='current', level=logging.WARNING)


def loss_is_finite_on_all_ranks(loss: torch.Tensor) -> bool:
    """True when ``loss`` is finite on every rank (one all-reduce of a flag)."""
    nonfinite = (~torch.isfinite(loss.detach())).any().float()
    all_reduce(nonfinite, op='max')  # no-op outside distributed runs
    return not bool(nonfinite.item())


def current_iteration() -> Union[int, str]:
    """1-based number of the running train iteration, from the message hub."""
    it = MessageHub.get_current_instance().get_info('iter')
    return 'unknown' if it is None else int(it) + 1


@OPTIM_WRAPPERS.register_module()
class GuardedOptimWrapper(NonFiniteLossGuardMixin, FusedStepMixin, OptimWrapper):
    """mmengine's :class:`OptimWrapper` that skips and reports non-finite losses.

    Args:
        max_consecutive_nonfinite: non-finite losses in a row that stop the run.
        fused_step: run an Adam / AdamW whose ``fused`` / ``foreach`` the config left
            unset with the fused kernel where the device has it
            (:mod:`~mmmim.engine.optimizers.fused_step`).
        *args, **kwargs: as :class:`OptimWrapper` (optimizer, accumulative_counts,
            clip_grad).
    """

    def __init__(self, *args, max_consecutive_nonfinite: int = 20, fused_step: bool = True,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._init_guard(max_consecutive_nonfinite)
        self._init_fused_step(fused_step)


def resolve_amp_dtype(dtype: Union[str, torch.dtype, None]) -> torch.dtype:
    """``'auto'``: bfloat16 on a CUDA device with native bfloat16 (Ampere and later:
    A100, H100, RTX 30xx+), float16 on older CUDA devices (V100, T4, whose bfloat16
    is emulated and slow), bfloat16 on the CPU. Otherwise ``'bfloat16'`` /
    ``'float16'`` or the ``torch.dtype``."""
    if dtype in (None, 'auto'):
        if not torch.cuda.is_available():
            return torch.bfloat16
        native = torch.cuda.is_bf16_supported(including_emulation=False)
        return torch.bfloat16 if native else torch.float16
    if isinstance(dtype, str):
        if dtype not in AMP_DTYPES:
            raise ValueError(f"dtype must be 'auto' or one of {AMP_DTYPES}, got {dtype!r}")
        dtype = getattr(torch, dtype)
    if dtype not in (torch.float16, torch.bfloat16):
        raise ValueError(f'autocast dtype must be float16 or bfloat16, got {dtype}')
    if dtype == torch.float16 and not torch.cuda.is_available():
        raise ValueError('float16 autocast needs a CUDA device; on the CPU use '
                         "dtype='bfloat16' (or 'auto')")
    return dtype


def build_loss_scaler(loss_scale: Union[str, float, dict], dtype: torch.dtype
                      ) -> Tuple[torch.amp.GradScaler, Optional[float]]:
    """A gradient scaler and the fixed scale to keep (None: dynamic).

    Only float16 needs loss scaling; for other dtypes the scaler is disabled (it then
    passes losses and optimizer steps through unchanged).
    """
    if dtype != torch.float16:
        return torch.amp.GradScaler('cuda', enabled=False), None
    if loss_scale == 'dynamic':
        return torch.amp.GradScaler('cuda'), None
    if isinstance(loss_scale, (int, float)):
        return torch.amp.GradScaler('cuda', init_scale=float(loss_scale)), float(loss_scale)
    if isinstance(loss_scale, dict):
        return torch.amp.GradScaler('cuda', **loss_scale), None
    raise TypeError(f"loss_scale must be 'dynamic', a number or a dict, got {loss_scale!r}")


@OPTIM_WRAPPERS.register_module()
class GuardedAmpOptimWrapper(NonFiniteLossGuardMixin, FusedStepMixin, AmpOptimWrapper):
    """Mixed precision (autocast + loss scaling for float16) with the non-finite
    guard of :class:`GuardedOptimWrapper`. Works on the CPU too (bfloat16).

    Losses and norm-pix targets are computed in float32 inside the model whatever
    the autocast dtype; only the encoder and decoder run in ``dtype``.

    Args:
        dtype: ``'auto'`` (see :func:`resolve_amp_dtype`), ``'bfloat16'`` or
            ``'float16'`` (CUDA only), or the ``torch.dtype``. For float32 training
            use :class:`GuardedOptimWrapper`.
        loss_scale: for float16: ``'dynamic'``, a fixed scale, or GradScaler kwargs.
        max_consecutive_nonfinite: non-finite losses in a row that stop the run.
        fused_step: as :class:`GuardedOptimWrapper`.
        **kwargs: as :class:`OptimWrapper` (optimizer, accumulative_counts, clip_grad).
    """

    def __init__(self, dtype: Union[str, torch.dtype, None] = 'auto',
                 loss_scale: Union[str, float, dict] = 'dynamic',
                 max_consecutive_nonfinite: int = 20, fused_step: bool = True,
                 **kwargs) -> None:
        # AmpOptimWrapper.__init__ asserts a GPU; set up its three attributes here
        OptimWrapper.__init__(self, **kwargs)
        self.cast_dtype = resolve_amp_dtype(dtype)
        self.loss_scaler, self._scale_update_param = build_loss_scaler(
            loss_scale, self.cast_dtype)
        self._init_guard(max_consecutive_nonfinite)
        self._init_fused_step(fused_step)

    def load_state_dict(self, state_dict: dict) -> None:
        """As :class:`AmpOptimWrapper`. The empty scaler state of a checkpoint written
        without loss scaling (bfloat16) leaves a float16 run's scaler as built."""
        if not state_dict.get('loss_scaler', True):
            state_dict = {k: v for k, v in state_dict.items() if k != 'loss_scaler'}
        super().load_state_dict(state_dict)
