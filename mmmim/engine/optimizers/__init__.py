"""Optimizer wrappers and constructors."""
from .guarded_optim_wrapper import (
                                    GuardedAmpOptimWrapper,
                                    GuardedOptimWrapper,
                                    NonFiniteLossGuardMixin,
                                    resolve_amp_dtype,
)
from .layer_decay import LayerDecayOptimWrapperConstructor
from .zero import ZeroRedundancyOptimizer, consolidate_sharded_states  # noqa: F401 (registers)

__all__ = ['GuardedAmpOptimWrapper', 'GuardedOptimWrapper',
           'LayerDecayOptimWrapperConstructor', 'NonFiniteLossGuardMixin',
           'resolve_amp_dtype']
