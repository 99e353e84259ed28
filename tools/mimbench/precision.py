"""The config's optimizer wrapper at the benchmark's precision (fp32 or AMP)."""
import copy
from contextlib import contextmanager
from typing import Iterator, List, Optional, Sequence

import torch
from mmengine.config import Config
from mmengine.optim import AmpOptimWrapper, OptimWrapper, build_optim_wrapper
from mmengine.registry import OPTIM_WRAPPERS
from torch import nn

from mmmim.config_loading import registry_chain
from mmmim.engine.optimizers import resolve_amp_dtype

AMP_ONLY_KEYS = ('loss_scale', 'dtype', 'use_fsdp')


def amp_dtype(device: str) -> torch.dtype:
    """AMP compute dtype: bf16 on CPU; on CUDA the training wrappers' ``'auto'``
    (bf16 where supported, else fp16)."""
    return resolve_amp_dtype('auto') if device.startswith('cuda') else torch.bfloat16


def registered_wrappers() -> List[type]:
    """Optimizer wrapper classes of the current scope's registry and its parents."""
    with OPTIM_WRAPPERS.switch_scope_and_registry(None) as registry:
        return [c for reg in registry_chain(registry) for c in reg.module_dict.values()
                if isinstance(c, type)]


def optim_wrapper_class(type_) -> type:
    """The class of an ``optim_wrapper`` ``type`` in the current default scope."""
    if not isinstance(type_, str):
        return type_
    with OPTIM_WRAPPERS.switch_scope_and_registry(None) as registry:
        cls = registry.get(type_)
    if cls is None:
        raise KeyError(f'{type_} is not in the {registry.scope}::optim wrapper registry')
    return cls


def _is_wrapper(cls: type, amp: bool) -> bool:
    return issubclass(cls, OptimWrapper) and issubclass(cls, AmpOptimWrapper) == amp


def _mixins(cls: type) -> List[type]:
    return [c for c in cls.__mro__ if not issubclass(c, OptimWrapper)]


def precision_counterpart(cls: type, amp: bool, candidates: Sequence[type] = ()) -> type:
    """The optimizer wrapper like ``cls`` at the other precision (``cls`` when it is
    already AMP / non-AMP as asked): the nearest such base of ``cls`` more specific
    than mmengine's two (``class GuardedAmp(AmpOptimWrapper, Guarded)`` -> ``Guarded``),
    else the simplest candidate with the same mixins (``GuardedAmpOptimWrapper`` ->
    ``GuardedOptimWrapper``), else ``AmpOptimWrapper`` / ``OptimWrapper``."""
    if not issubclass(cls, OptimWrapper):
        raise TypeError(f'{cls.__name__} is not an mmengine OptimWrapper')
    if _is_wrapper(cls, amp):
        return cls
    nearest = next((c for c in cls.__mro__ if _is_wrapper(c, amp)), OptimWrapper)
    if nearest not in (OptimWrapper, AmpOptimWrapper):
        return nearest
    matches = [c for c in (*candidates, OptimWrapper, AmpOptimWrapper)
               if _is_wrapper(c, amp) and _mixins(c) == _mixins(cls)]
    return min(matches, key=lambda c: len(c.__mro__),
               default=AmpOptimWrapper if amp else OptimWrapper)


def autocast_forward(wrapper: OptimWrapper, device_type: str, dtype: torch.dtype) -> None:
    """Run ``wrapper.optim_context`` (the preprocess + forward part of ``train_step``)
    under autocast, as ``AmpOptimWrapper.optim_context`` does."""
    plain_context = wrapper.optim_context

    @contextmanager
    def optim_context(model: nn.Module) -> Iterator[None]:
        with plain_context(model), torch.autocast(device_type, dtype=dtype):
            yield

    wrapper.optim_context = optim_context


def build_benchmark_optim_wrapper(model: nn.Module, cfg: Config, dtype: Optional[torch.dtype],
                                  device: str) -> OptimWrapper:
    """The config's ``optim_wrapper`` at the benchmark's precision, whatever the config's.

    fp32 (``dtype=None``): an AMP wrapper is replaced by its non-AMP counterpart
    (:func:`precision_counterpart`). AMP on CUDA: the AMP counterpart of the config's
    wrapper, with ``dtype`` set. AMP on CPU: bf16 needs no loss scaling (and mmengine's
    AMP wrapper refuses the CPU), so every config gets its non-AMP wrapper with the
    forward under bf16 autocast, which is what an AMP wrapper does in bf16.
    """
    spec = copy.deepcopy(cfg.optim_wrapper)
    spec = spec.to_dict() if hasattr(spec, 'to_dict') else dict(spec)
    cls = optim_wrapper_class(spec.get('type', 'OptimWrapper'))
    amp_wrapper = dtype is not None and device != 'cpu'
    spec['type'] = precision_counterpart(cls, amp_wrapper, registered_wrappers())
    if amp_wrapper:
        spec.setdefault('loss_scale', 'dynamic')
        spec['dtype'] = str(dtype).replace('torch.', '')
    else:
        for key in AMP_ONLY_KEYS:
            spec.pop(key, None)
    wrapper = build_optim_wrapper(model, spec)
    if dtype is not None and not amp_wrapper:
        autocast_forward(wrapper, device, dtype)
    return wrapper
