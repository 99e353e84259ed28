"""Training machinery: guarded optimizer wrappers, hooks, a train loop and a sampler
that resume mid-epoch, and CPU (gloo) distributed start-up. Importing this package
registers its modules (it is the location of the engine registries, DATA_SAMPLERS
included)."""
from .dist import init_cpu_distributed
from .hooks import (
                    AtomicCheckpointHook,
                    ExpNameOnceLoggerHook,
                    ParamGroupLrHook,
                    RandomStateHook,
                    ReconstructionVisualizationHook,
                    SkippedImagesHook,
                    TrainSetupReportHook,
)
from .optimizers import (
                    GuardedAmpOptimWrapper,
                    GuardedOptimWrapper,
                    LayerDecayOptimWrapperConstructor,
                    NonFiniteLossGuardMixin,
                    resolve_amp_dtype,
)
from .random_states import capture_random_states, preserved_random_states, restore_random_states
from .runner import ResumableEpochBasedTrainLoop
from .samplers import ResumableSampler

__all__ = [
    'AtomicCheckpointHook', 'ExpNameOnceLoggerHook', 'GuardedAmpOptimWrapper',
    'GuardedOptimWrapper', 'LayerDecayOptimWrapperConstructor', 'NonFiniteLossGuardMixin',
    'ParamGroupLrHook', 'RandomStateHook', 'ReconstructionVisualizationHook',
    'ResumableEpochBasedTrainLoop', 'ResumableSampler', 'SkippedImagesHook',
    'TrainSetupReportHook', 'capture_random_states', 'init_cpu_distributed',
    'preserved_random_states', 'resolve_amp_dtype', 'restore_random_states'
]
