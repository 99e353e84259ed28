"""Stop a training run at a budget of CPU seconds.

On a shared machine the wall clock measures the other jobs; the process's CPU time
(``time.process_time``: all threads of this process) measures the run's own work, so
runs of different methods can be given the same compute. Loader worker processes are
not counted: give a budgeted run ``num_workers=0``.
"""
import time
from typing import Optional

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop

from mmmim.registry import HOOKS


@HOOKS.register_module()
class CPUBudgetHook(Hook):
    """Count the CPU seconds spent training and stop the run at ``cpu_seconds``.

    The clock starts at ``before_train`` and leaves out the validation loops (their
    ``before_val`` .. ``after_val``). After every training iteration it is put in the
    message hub as ``train/cpu_s`` (so every log line and ``scalars.json`` train entry
    carries it), and before every validation as ``val/cpu_s`` (so every validation
    entry says at which training CPU time it was taken). When it reaches
    ``cpu_seconds`` the hook sets ``runner.train_loop.stop_training``, which mmengine's
    loops read between iterations (``IterBasedTrainLoop``) or between epochs (the
    epoch loops: the current epoch is finished, so a run overshoots by at most one
    epoch; ``cpu_s`` says by how much).

    Args:
        cpu_seconds: the budget; ``None`` only counts (no stop).
        validate_at_start: run the validation loop once before the first iteration
            (the random initialization's score, at ``cpu_s`` 0; after every hook's
            ``before_train``, which the checkpoint hook's best-score saving needs).
        validate_at_end: run the validation loop after the last iteration unless the
            train loop has just run it (a stop between two validation intervals).
        save_at_stop: when the budget stops the run, save ``epoch_<n>.pth`` (an
            iteration loop: ``iter_<n>.pth``) in the work dir (the checkpoint hook's
            ``save_last`` saves at ``max_epochs`` only).
    """

    priority = 'ABOVE_NORMAL'  # before LoggerHook reads the message hub

    def __init__(self, cpu_seconds: Optional[float] = None, validate_at_start: bool = False,
                 validate_at_end: bool = True, save_at_stop: bool = True) -> None:
        if cpu_seconds is not None and cpu_seconds <= 0:
            raise ValueError(f'CPUBudgetHook: cpu_seconds must be > 0, got {cpu_seconds}')
        self.cpu_seconds = cpu_seconds
        self.validate_at_start = validate_at_start
        self.validate_at_end = validate_at_end
        self.save_at_stop = save_at_stop
        self._start: Optional[float] = None
        self._excluded = 0.
        self._val_start: Optional[float] = None
        self._validated_at: Optional[int] = None
        self.stopped_at: Optional[float] = None

    def spent(self) -> float:
        """CPU seconds spent training so far (0 before training starts)."""
        if self._start is None:
            return 0.
        now = self._val_start if self._val_start is not None else time.process_time()
        return now - self._start - self._excluded

    def before_train(self, runner) -> None:
        self._start, self._excluded = time.process_time(), 0.

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if self.validate_at_start and self._validated_at is None and runner.iter == 0 \
                and runner.val_loop is not None:
            runner.val_loop.run()

    def before_val(self, runner) -> None:
        self._val_start = time.process_time()
        runner.message_hub.update_scalar('val/cpu_s', self.spent())

    def after_val(self, runner) -> None:
        if self._val_start is not None and self._start is not None:
            self._excluded += time.process_time() - self._val_start
        self._val_start = None

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._validated_at = runner.iter

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        spent = self.spent()
        runner.message_hub.update_scalar('train/cpu_s', spent)
        if self.cpu_seconds is None or self.stopped_at is not None:
            return
        if spent >= self.cpu_seconds:
            self.stopped_at = spent
            runner.train_loop.stop_training = True
            print_log(f'CPU budget reached: {spent:.3g} of {self.cpu_seconds:g} CPU s at '
                      f'iteration {runner.iter + 1}; stopping', logger='current')

    def after_train(self, runner) -> None:
        if self.save_at_stop and self.stopped_at is not None:
            by_epoch = isinstance(runner.train_loop, EpochBasedTrainLoop)
            name = f'epoch_{runner.epoch}.pth' if by_epoch else f'iter_{runner.iter}.pth'
            runner.save_checkpoint(runner.work_dir, name)
        if (self.validate_at_end and runner.val_loop is not None
                and self._validated_at != runner.iter):
            runner.val_loop.run()
