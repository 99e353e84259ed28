"""Optimizer wrappers and constructors."""
from .guarded_optim_wrapper import (
                                    GuardedAmpOptimWrapper,
                                    GuardedOptimWrapper,
                                    NonFiniteLossGuardMixin,
                                    resolve_amp_dtype,
)
from .layer_decay import LayerDecayOptimWrapperConstructor

__all__ = ['GuardedAmpOptimWrapper', 'GuardedOptimWrapper',
           'LayerDecayOptimWrapperConstructor', 'NonFiniteLossGuardMixin',
           'resolve_amp_dtype']
