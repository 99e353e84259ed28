"""Training hooks."""
from .atomic_checkpoint_hook import AtomicCheckpointHook
from .cpu_budget_hook import CPUBudgetHook
from .exp_name_logger_hook import ExpNameOnceLoggerHook
from .param_group_lr_hook import ParamGroupLrHook
from .preemption_hook import Preempted, PreemptionCheckpointHook
from .random_state_hook import RandomStateHook
from .reconstruction_visualization_hook import ReconstructionVisualizationHook
from .skipped_images_hook import SkippedImagesHook
from .train_setup_report_hook import TrainSetupReportHook

__all__ = ['AtomicCheckpointHook', 'CPUBudgetHook', 'ExpNameOnceLoggerHook', 'ParamGroupLrHook',
           'Preempted', 'PreemptionCheckpointHook', 'RandomStateHook',
           'ReconstructionVisualizationHook', 'SkippedImagesHook', 'TrainSetupReportHook']
