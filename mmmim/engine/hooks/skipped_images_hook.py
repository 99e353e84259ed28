"""Report the unreadable images a run skipped, summed over workers and ranks."""
from typing import List

import torch
from mmengine.dist import all_reduce, get_world_size
from mmengine.hooks import Hook

from mmmim.registry import HOOKS

SKIPPED_KEY = 'train_skipped_images'


def dataset_skips(dataset) -> int:
    """Images the dataset's loaders skipped in this process and its data loader
    workers (datasets without skip records, e.g. mmpretrain's, count 0; wrappers
    such as ``ConcatDataset`` are searched)."""
    records: List = getattr(dataset, 'skipped_images', None) or []
    total = sum(record.total for record in records)
    for inner in getattr(dataset, 'datasets', ()) or [getattr(dataset, 'dataset', None)]:
        if inner is not None and inner is not dataset:
            total += dataset_skips(inner)
    return total


@HOOKS.register_module()
class SkippedImagesHook(Hook):
    """Every ``interval`` iterations and at the end of each epoch, sum the train
    dataset's skipped images over all ranks (each rank's count already covers its
    data loader workers, which add to shared memory); when the sum grew, log it
    and keep it in the message hub (``train_skipped_images``, saved in checkpoints,
    so a resumed run continues the count). Each skip is also logged where it
    happens, naming the file and the reason.

    Args:
        interval: iterations between two sums (a collective over the ranks).
    """

    priority = 'LOW'

    def __init__(self, interval: int = 50) -> None:
        self.interval = interval
        self._reported = 0
        self._before_run = 0

    def before_train(self, runner) -> None:
        self._before_run = int(runner.message_hub.get_info(SKIPPED_KEY, 0))
        self._reported = self._before_run

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if self.every_n_train_iters(runner, self.interval):
            self._report(runner)

    def after_train_epoch(self, runner) -> None:
        self._report(runner)

    def _report(self, runner) -> None:
        """Sum over the ranks; log and record when the total grew."""
        count = torch.tensor(dataset_skips(runner.train_dataloader.dataset),
                             dtype=torch.int64)
        if get_world_size() > 1:
            all_reduce(count)
        total = self._before_run + int(count)
        runner.message_hub.update_info(SKIPPED_KEY, total)
        if total > self._reported:
            runner.logger.warning(f'{total} unreadable images skipped so far in this run '
                                  f'(all ranks and data loader workers; '
                                  f'{total - self._reported} new). The warnings of the '
                                  'data loader name each file.')
            self._reported = total
