"""Training hooks."""
from .atomic_checkpoint_hook import AtomicCheckpointHook
from .random_state_hook import RandomStateHook
from .skipped_images_hook import SkippedImagesHook
from .train_setup_report_hook import TrainSetupReportHook

__all__ = ['AtomicCheckpointHook', 'RandomStateHook', 'SkippedImagesHook',
           'TrainSetupReportHook']
