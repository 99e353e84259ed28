"""mmengine's LoggerHook without the ``Exp name: ...`` line after every epoch."""
import logging

from mmengine.hooks import LoggerHook

from mmmim.registry import HOOKS

EXP_NAME_PREFIX = 'Exp name: '


class _DropExpName(logging.Filter):
    """Drops the log records that only state the experiment name."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith(EXP_NAME_PREFIX)


@HOOKS.register_module()
class ExpNameOnceLoggerHook(LoggerHook):
    """:class:`mmengine.hooks.LoggerHook` that states the experiment name once before
    training and then every ``interval_exp_name`` iterations, not also at the end of
    every epoch (mmengine's hook does both; short epochs repeat it after every few
    lines). Same arguments as LoggerHook."""

    def before_train(self, runner) -> None:
        runner.logger.info(f'{EXP_NAME_PREFIX}{runner.experiment_name}')

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if len(runner.train_dataloader) < self.interval:
            return self.log_by_iteration(runner, batch_idx)
        if self.every_n_train_iters(runner, self.interval_exp_name):
            return super().after_train_iter(runner, batch_idx, data_batch, outputs)
        drop = _DropExpName()
        runner.logger.addFilter(drop)
        try:
            super().after_train_iter(runner, batch_idx, data_batch, outputs)
        finally:
            runner.logger.removeFilter(drop)

    def log_by_iteration(self, runner, batch_idx: int) -> None:
        """Epochs shorter than ``interval`` (the demo: one iteration each): a line every
        ``interval`` iterations of the run and after the last, not one per epoch
        (mmengine's hook also logs at every epoch's end)."""
        if not (self.every_n_train_iters(runner, self.interval)
                or self.is_last_train_iter(runner)):
            return
        tag, log_str = runner.log_processor.get_log_after_iter(runner, batch_idx, 'train')
        runner.logger.info(log_str)
        runner.visualizer.add_scalars(tag, step=runner.iter + 1, file_path=self.json_log_path)
