"""An epoch-based train loop that resumes mid-epoch at the next unseen batch.

mmengine 0.10.7's ``EpochBasedTrainLoop`` resumed from an iteration checkpoint
restarts the interrupted epoch: the batches already trained on are seen twice and
the epoch runs past its length. This loop continues the epoch instead.
"""
import logging
from typing import Iterable

from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop

from mmmim.random_states import preserved_random_states
from mmmim.registry import LOOPS

from ..samplers import ResumableSampler

LOADER_LEN_KEY = 'train_loader_len'
SAMPLER_SEED_KEY = 'train_sampler_seed'


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(EpochBasedTrainLoop):
    """``EpochBasedTrainLoop`` that, after a resume from a mid-epoch checkpoint,
    trains the rest of that epoch from the next unseen batch, in the same shuffle
    order (the sampler's seed is kept in the checkpoint's message hub).

    Without a resume it behaves exactly like ``EpochBasedTrainLoop``. The skip is
    exact with :class:`ResumableSampler` (the batches are not loaded); with another
    sampler the seen batches are loaded and dropped. Creating the resumed epoch's
    data iterator leaves the random states untouched, so a run restored by
    :class:`RandomStateHook` draws what the uninterrupted run drew (with
    ``num_workers=0``; worker processes are re-seeded when they start).

    Args: as ``EpochBasedTrainLoop``.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._batches_to_skip = 0

    def run(self):
        """Work out where a resumed run stands in its epoch, then train."""
        if self._iter > 0 or self._epoch > 0:
            self._restore_sampler_seed()
            self._batches_to_skip = self._batches_done_in_epoch()
        self._record_loader_state()
        return super().run()

    def run_epoch(self) -> None:
        """Iterate one epoch (the rest of it, right after a mid-epoch resume)."""
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        skip, self._batches_to_skip = self._batches_to_skip, 0
        for idx, data_batch in enumerate(self._epoch_batches(skip), start=skip):
            self.run_iter(idx, data_batch)
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1

    def _batches_done_in_epoch(self) -> int:
        """Batches of the current epoch the checkpoint had trained on."""
        per_epoch = len(self.dataloader)
        done = self._iter - self._epoch * per_epoch
        saved_len = self.runner.message_hub.get_info(LOADER_LEN_KEY)
        changed = saved_len is not None and saved_len != per_epoch
        if 0 <= done <= per_epoch and not changed:
            if done:
                self.runner.logger.info(f'Resuming epoch {self._epoch + 1} at batch '
                                        f'{done + 1} of {per_epoch}')
            return done
        print_log(f'Cannot place the checkpoint (epoch {self._epoch}, iteration '
                  f'{self._iter}) in an epoch of {per_epoch} batches (the checkpoint '
                  f'was written with {saved_len}; batch size or number of processes '
                  'changed?): restarting the epoch', logger='current',
                  level=logging.WARNING)
        return 0

    def _epoch_batches(self, skip: int) -> Iterable:
        """The dataloader, or an iterator over its batches from ``skip`` on."""
        if skip == 0:
            return self.dataloader
        if skip >= len(self.dataloader):
            return []
        sampler = self.dataloader.sampler
        batch_size = self.dataloader.batch_size
        with preserved_random_states():
            if isinstance(sampler, ResumableSampler) and batch_size:
                sampler.set_start(skip * batch_size)
                return iter(self.dataloader)
            print_log(f'{type(sampler).__name__} cannot start mid-epoch: loading and '
                      f'dropping {skip} batches (use ResumableSampler)',
                      logger='current', level=logging.WARNING)
            batches = iter(self.dataloader)
            for _ in range(skip):
                next(batches)
            return batches

    def _restore_sampler_seed(self) -> None:
        """Use the shuffle seed the checkpoint's run used (same order of samples)."""
        seed = self.runner.message_hub.get_info(SAMPLER_SEED_KEY)
        sampler = self.dataloader.sampler
        if seed is not None and getattr(sampler, 'seed', seed) != seed:
            self.runner.logger.info(f'Sampler seed {sampler.seed} -> {seed} (the '
                                    'checkpoint\'s, for the same shuffle order)')
            sampler.seed = seed

    def _record_loader_state(self) -> None:
        """Store what a resume needs in the message hub (saved in checkpoints)."""
        hub = self.runner.message_hub
        hub.update_info(LOADER_LEN_KEY, len(self.dataloader))
        seed = getattr(self.dataloader.sampler, 'seed', None)
        if seed is not None:
            hub.update_info(SAMPLER_SEED_KEY, int(seed))
