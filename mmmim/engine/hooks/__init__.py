"""Training hooks."""
from .random_state_hook import RandomStateHook
from .train_setup_report_hook import TrainSetupReportHook

__all__ = ['RandomStateHook', 'TrainSetupReportHook']
