"""Training hooks."""
from .exp_name_logger_hook import ExpNameOnceLoggerHook
from .param_group_lr_hook import ParamGroupLrHook
from .random_state_hook import RandomStateHook
from .reconstruction_visualization_hook import ReconstructionVisualizationHook
from .train_setup_report_hook import TrainSetupReportHook

__all__ = ['ExpNameOnceLoggerHook', 'ParamGroupLrHook', 'RandomStateHook',
           'ReconstructionVisualizationHook', 'TrainSetupReportHook']
