"""Training machinery: guarded optimizer wrappers, hooks, a train loop and a sampler
that resume mid-epoch, the held-out check (a seeded val loop and its metric), and CPU
(gloo) distributed start-up. Importing this package registers its modules (it is the
location of the engine registries, DATA_SAMPLERS and METRICS included)."""
from .dist import init_cpu_distributed
from .heldout_check import MaskedUnitErrorMetric, SeededValLoop
from .hooks import (
                    AtomicCheckpointHook,
                    CPUBudgetHook,
                    ExpNameOnceLoggerHook,
                    ParamGroupLrHook,
                    PreemptionCheckpointHook,
                    RandomStateHook,
                    ReconstructionVisualizationHook,
                    SkippedImagesHook,
                    TrainSetupReportHook,
)
from .linear_probe_check import LinearProbeLoop, LinearProbeMetric
from .optimizers import (
                    GuardedAmpOptimWrapper,
                    GuardedOptimWrapper,
                    LayerDecayOptimWrapperConstructor,
                    NonFiniteLossGuardMixin,
                    resolve_amp_dtype,
)
from .runner import ResumableEpochBasedTrainLoop
from .samplers import ResumableSampler

__all__ = [
    'AtomicCheckpointHook', 'CPUBudgetHook', 'ExpNameOnceLoggerHook', 'GuardedAmpOptimWrapper',
    'GuardedOptimWrapper', 'LayerDecayOptimWrapperConstructor', 'LinearProbeLoop',
    'LinearProbeMetric', 'MaskedUnitErrorMetric',
    'NonFiniteLossGuardMixin',
    'ParamGroupLrHook', 'PreemptionCheckpointHook', 'RandomStateHook',
    'ReconstructionVisualizationHook',
    'ResumableEpochBasedTrainLoop', 'ResumableSampler', 'SeededValLoop', 'SkippedImagesHook',
    'TrainSetupReportHook', 'init_cpu_distributed', 'resolve_amp_dtype'
]
