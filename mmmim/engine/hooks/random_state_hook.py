"""Random states in checkpoints, so a resumed run draws the same masks and
augmentations as the uninterrupted one."""
import logging
from typing import Optional

from mmengine.dist import all_gather_object, get_dist_info, get_world_size
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import print_log

from mmmim.random_states import RandomStates, capture_random_states, restore_random_states
from mmmim.registry import HOOKS


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Save every rank's random states in checkpoints; restore them on resume.

    ``checkpoint['random_states']`` is a list with one entry per rank (python,
    numpy, torch CPU and CUDA states; see :mod:`mmmim.random_states`), so
    ranks keep their own streams (``diff_rank_seed``) across a resume. Only rank 0
    writes checkpoints, so the ranks gather their states beforehand, in
    ``after_train_iter`` of the iterations after which the CheckpointHook may save
    (its interval, the end of an epoch, the last iteration); this hook's priority
    (LOW) puts that before the CheckpointHook (VERY_LOW). A checkpoint written at
    another moment holds rank 0's states only and is resumed with fresh ones.

    On resume (``resume=True``; a plain ``load_from`` starts fresh streams) the
    states are restored when the checkpoint is loaded and once more in
    ``before_train``, right before the first resumed iteration: the Runner may
    re-seed in between (when the checkpoint's seed differs from the config's).

    Worker processes of the DataLoader (``num_workers > 0``) are re-seeded by
    mmengine when they start; their augmentation streams are not restored.
    """

    priority = 'LOW'

    def __init__(self) -> None:
        self._pending: Optional[RandomStates] = None
        self._gathered: Optional[list] = None
        self._gathered_after = -1  # iterations done when gathered

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        """Gather all ranks' states (a collective) when a checkpoint may follow."""
        if self._checkpoint_may_follow(runner, batch_idx):
            self.gather_states(runner)

    def gather_states(self, runner) -> None:
        """Gather every rank's states now (a collective: every rank calls it), for a
        checkpoint written after this iteration (by a checkpoint or preemption hook)."""
        if get_world_size() > 1:
            self._gathered = all_gather_object(capture_random_states())
            self._gathered_after = runner.iter + 1

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Store one state per rank (rank 0 only runs this)."""
        if get_world_size() == 1:
            states = [capture_random_states()]
        elif self._gathered_after == checkpoint.get('meta', {}).get('iter'):
            states = self._gathered
        else:
            states = [capture_random_states()]
            print_log('Random states of ranks other than 0 are not in this checkpoint '
                      '(written at an unexpected moment)', logger='current',
                      level=logging.WARNING)
        checkpoint['random_states'] = states

    def _checkpoint_may_follow(self, runner, batch_idx: int) -> bool:
        """Whether a CheckpointHook may save after this iteration or epoch."""
        for hook in runner.hooks:
            if not isinstance(hook, CheckpointHook):
                continue
            if self.is_last_train_iter(runner) or (
                    hook.by_epoch and self.end_of_epoch(runner.train_dataloader, batch_idx)):
                return True
            if not hook.by_epoch and self.every_n_train_iters(runner, hook.interval,
                                                               hook.save_begin):
                return True
        return False

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Pick this rank's states from a resumed checkpoint and restore them."""
        if not getattr(runner, '_resume', False):
            return
        self._pending = self._states_of_this_rank(checkpoint.get('random_states'))
        if self._pending is not None:
            restore_random_states(self._pending)

    def before_train(self, runner) -> None:
        """Restore once more right before training starts (see the class doc)."""
        if self._pending is None:
            return
        restore_random_states(self._pending)
        self._pending = None
        runner.logger.info('Random states restored from the checkpoint (python, numpy, '
                           'torch, cuda)')

    @staticmethod
    def _states_of_this_rank(saved: Optional[list]) -> Optional[RandomStates]:
        rank, world_size = get_dist_info()
        if saved is None:
            reason = 'the checkpoint holds none (written without RandomStateHook)'
        elif len(saved) != world_size:
            reason = f'it holds {len(saved)} ranks, this run has {world_size}'
        else:
            return saved[rank]
        print_log(f'Random states not restored: {reason}. Masks and augmentations '
                  'continue from freshly seeded generators.', logger='current',
                  level=logging.WARNING)
        return None
