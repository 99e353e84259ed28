"""Checkpoints that a kill, a preemption or a full disk cannot destroy."""
import logging
import os
import os.path as osp
import re
from contextlib import contextmanager
from typing import List, Optional, Tuple

from mmengine.dist import broadcast_object_list, get_world_size, is_main_process
from mmengine.fileio import LocalBackend, register_backend
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log

from mmmim.checkpoint_io import TEMP_FILE, CheckpointError, read_checkpoint, write_atomically
from mmmim.registry import HOOKS

from ..optimizers.zero import consolidate_sharded_states

ATOMIC_BACKEND = 'mmmim_atomic_local'
#: What ``Runner.resume`` reads from a checkpoint besides the weights.
RESUME_KEYS = ('meta', 'state_dict', 'message_hub')


class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend whose ``put`` writes atomically
    (:func:`~mmmim.checkpoint_io.write_atomically`)."""

    def put(self, obj: bytes, filepath) -> None:
        write_atomically(obj, str(filepath))


register_backend(ATOMIC_BACKEND, AtomicLocalBackend, force=True)


class _RemovalsDeferred:
    """A file backend whose ``remove`` / ``rmtree`` are queued, not done."""

    def __init__(self, backend) -> None:
        self.backend = backend
        self.pending: List[Tuple[str, str]] = []

    def remove(self, path) -> None:
        self.pending.append(('remove', path))

    def rmtree(self, path) -> None:
        self.pending.append(('rmtree', path))

    def __getattr__(self, name):
        return getattr(self.backend, name)


def check_resumable(path: str) -> dict:
    """The ``meta`` of a training checkpoint that loads (the file is mapped, not
    read, so this is fast). Raises :class:`CheckpointError` naming the problem."""
    checkpoint = read_checkpoint(path, map_location='cpu', mmap=True)
    missing = [k for k in RESUME_KEYS if not isinstance(checkpoint, dict) or k not in checkpoint]
    if missing:
        raise CheckpointError(path, f'not a training checkpoint: no {", ".join(missing)} '
                              '(a converted or published model can start a run with '
                              'load_from, not resume one)')
    return checkpoint['meta']


def resume_candidates(folder: str, filename_tmpl: str, work_dir: str) -> List[str]:
    """Checkpoints a run may resume from, newest first: the file ``last_checkpoint``
    names and every file of the hook's name pattern in ``folder``, by modification
    time (a rename keeps the time of writing)."""
    pattern = re.compile('^' + r'\d+'.join(map(re.escape, filename_tmpl.split('{}'))) + '$')
    found = {osp.join(folder, n) for n in os.listdir(folder) if pattern.match(n)} \
        if osp.isdir(folder) else set()
    named = last_checkpoint_target(work_dir)
    if named:
        found.add(named)
    return sorted(found, key=lambda p: (osp.getmtime(p) if osp.exists(p) else -1.0, p),
                  reverse=True)


def last_checkpoint_target(work_dir: str) -> Optional[str]:
    """The path ``work_dir/last_checkpoint`` names, if the file names one."""
    pointer = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(pointer):
        return None
    with open(pointer) as f:
        return f.read().strip() or None


def newest_loadable(candidates: List[str]) -> Tuple[Optional[str], List[str]]:
    """``(the first candidate that loads, 'path: problem' of those skipped before)``."""
    skipped = []
    for path in candidates:
        try:
            check_resumable(path)
            return path, skipped
        except CheckpointError as err:
            skipped.append(f'{path}: {err.problem}')
    return None, skipped


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` (same arguments, files and ``last_checkpoint``)
    whose checkpoints cannot be lost:

    - every checkpoint is written atomically: to a hidden temporary file in the
      same folder, flushed, fsynced and renamed, so a kill or a full disk during a
      save leaves the previous checkpoints and ``last_checkpoint`` as they were
      (a leftover temporary file is removed by the next run);
    - ``last_checkpoint`` is rewritten once the new file is complete (mmengine's
      order, kept), and outdated checkpoints (``max_keep_ckpts``) and a replaced
      best checkpoint are removed only after the new one is complete (mmengine
      removes them first);
    - ``resume=True`` without a path (``--resume``) resumes from the newest
      checkpoint that loads, logging every newer file it skipped and why; with a
      path, a file that is not a complete training checkpoint fails, naming it and
      the problem (:class:`~mmmim.checkpoint_io.CheckpointError`);
    - optimizer states sharded across the ranks (``ZeroRedundancyOptimizer``) are
      gathered on rank 0, with every rank taking part, before each save that
      includes the optimizer (rank 0 alone writes the file).

    Checkpoints on remote storage (``out_dir='s3://...'``) are written by its
    backend as mmengine does.
    """

    def before_run(self, runner) -> None:
        """Pick or check the checkpoint a resumed run loads (before the runner does)."""
        super().before_run(runner)
        if not runner._resume:  # mmengine 0.10.7 keeps resume / load_from private
            return
        if runner._load_from is None:
            runner._load_from = self._agreed(runner, self._newest_loadable)
        elif '://' not in str(runner._load_from):
            self._agreed(runner, lambda _: check_resumable(runner._load_from))

    def before_train(self, runner) -> None:
        """Resolve the folder (mmengine), then write through the atomic backend."""
        super().before_train(runner)
        if self.file_client_args is None and isinstance(self.file_backend, LocalBackend):
            self.backend_args = dict(self.backend_args or {}, backend=ATOMIC_BACKEND)
            self.file_backend = AtomicLocalBackend()
            if is_main_process():
                self._remove_temporary_files(runner)

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        if self.save_optimizer:  # every rank: sharded (ZeRO) states gathered on rank 0
            consolidate_sharded_states(runner.optim_wrapper)
        with self._removals_after_save():
            super()._save_checkpoint_with_step(runner, step, meta)

    def _save_best_checkpoint(self, runner, metrics) -> None:
        with self._removals_after_save():
            super()._save_best_checkpoint(runner, metrics)

    @contextmanager
    def _removals_after_save(self):
        """Hold back mmengine's removals until the save inside has completed;
        a failed save removes nothing."""
        if isinstance(self.file_backend, _RemovalsDeferred):  # nested: outer one acts
            yield
            return
        backend = self.file_backend
        self.file_backend = deferred = _RemovalsDeferred(backend)
        try:
            yield
        finally:
            self.file_backend = backend
        for operation, path in deferred.pending:
            getattr(backend, operation)(path)

    def _checkpoint_folder(self, runner) -> str:
        """Where the checkpoints go (as mmengine's ``before_train`` resolves it)."""
        if self.out_dir is None or str(self.out_dir) == runner.work_dir:
            return runner.work_dir
        return osp.join(str(self.out_dir), osp.basename(runner.work_dir.rstrip(osp.sep)))

    def _newest_loadable(self, runner) -> Optional[str]:
        """The newest checkpoint that loads; ``None`` when there is none at all."""
        folder = self._checkpoint_folder(runner)
        if '://' in folder:
            return None  # remote storage: mmengine's last_checkpoint look-up
        candidates = resume_candidates(folder, self.filename_tmpl, runner.work_dir)
        chosen, skipped = newest_loadable(candidates)
        for line in skipped:
            runner.logger.warning(f'Resume: skipped {line}')
        if chosen is None and candidates:
            raise CheckpointError(folder, 'no checkpoint there loads, so the run cannot '
                                  'resume: ' + '; '.join(skipped))
        if chosen is not None:
            runner.logger.info(f'Resume: the newest checkpoint that loads is {chosen}')
        return chosen

    @staticmethod
    def _agreed(runner, decide):
        """``decide(runner)`` on rank 0, its result (or its error) on every rank."""
        outcome = [None, None]
        if is_main_process():
            try:
                outcome[0] = decide(runner)
            except CheckpointError as err:
                outcome[1] = (err.path, err.problem)
        if get_world_size() > 1:
            broadcast_object_list(outcome)
        if outcome[1] is not None:
            raise CheckpointError(*outcome[1])
        return outcome[0]

    def _remove_temporary_files(self, runner) -> None:
        """Temporary files of saves that were interrupted (they hold nothing usable)."""
        for name in os.listdir(self.out_dir) if osp.isdir(self.out_dir) else ():
            if TEMP_FILE.match(name):
                os.remove(osp.join(self.out_dir, name))
                print_log(f'Removed {name} in {self.out_dir}: the temporary file of an '
                          'interrupted checkpoint save', logger='current',
                          level=logging.WARNING)
