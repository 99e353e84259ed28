"""Optimizer wrappers and constructors."""
from .guarded_optim_wrapper import (
                                    GuardedAmpOptimWrapper,
                                    GuardedOptimWrapper,
                                    NonFiniteLossGuardMixin,
                                    resolve_amp_dtype,
)
from .layer_decay import LayerDecayOptimWrapperConstructor, backbone_depths

__all__ = ['GuardedAmpOptimWrapper', 'GuardedOptimWrapper',
           'LayerDecayOptimWrapperConstructor', 'NonFiniteLossGuardMixin',
           'backbone_depths', 'resolve_amp_dtype']
