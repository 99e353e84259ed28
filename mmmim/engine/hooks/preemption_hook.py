"""Stop cleanly when the job is asked to stop: Slurm's ``--signal=USR1@180`` before
the time limit, the SIGTERM of a preemption, a ``scancel`` or a spot instance's
shutdown. Every rank agrees on the iteration, a resumable checkpoint is written,
the processes exit 0, and a Slurm job can requeue itself to resume."""
import atexit
import functools
import logging
import multiprocessing
import os
import signal
import subprocess
import weakref
from typing import Callable, Dict, Optional, Sequence

import torch
import torch.distributed as torch_dist
from mmengine.dist import (
    all_reduce,
    barrier,
    get_world_size,
    is_main_process,
)
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import print_log
from torch.utils.data import DataLoader

from mmmim.checkpoint_io import write_atomically
from mmmim.registry import HOOKS

from ..optimizers.zero import consolidate_sharded_states
from .atomic_checkpoint_hook import ATOMIC_BACKEND
from .random_state_hook import RandomStateHook

#: set to 1 (``tools/slurm_train.sh --requeue``) to requeue the Slurm job after the save
REQUEUE_VAR = 'MMMIM_REQUEUE'
SCONTROL_TIMEOUT_S = 60


class Preempted(SystemExit):
    """Raised on every rank once the checkpoint is written: the process exits 0."""

    def __init__(self, message: str) -> None:
        super().__init__(0)
        self.message = message


class SignalFlag:
    """Handlers that only record the first of ``signums`` to arrive, while
    ``is_training(frame)`` says the interrupted code is training; the step itself
    is never interrupted. A signal that arrives outside training (after a crash
    left the handlers installed, for example) is handled as before they were. A
    handler installed earlier (a Python function) is still called."""

    def __init__(self, signums: Sequence[int], is_training: Callable) -> None:
        self.signums = tuple(signums)
        self.is_training = is_training
        self.received: Optional[int] = None
        self._previous: Dict[int, object] = {}

    def install(self) -> None:
        """Handle ``signums`` here (main thread only: ValueError elsewhere)."""
        for signum in self.signums:
            previous = signal.signal(signum, self._handle)
            stale = getattr(previous, '__self__', None)
            if isinstance(stale, SignalFlag):  # left by a run that crashed: skip it
                previous = stale._previous.get(signum, signal.SIG_DFL)
            self._previous[signum] = previous

    def restore(self) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, signal.SIG_DFL if previous is None else previous)
        self._previous.clear()

    def _handle(self, signum: int, frame) -> None:
        previous = self._previous.get(signum, signal.SIG_DFL)
        if self.is_training(frame):
            if self.received is None:
                self.received = signum
            if callable(previous):
                previous(signum, frame)
            return
        self.restore()  # as if this hook had never been there
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:
            signal.raise_signal(signum)


def ignore_in_worker(signums: Sequence[int], init_fn: Optional[Callable],
                     worker_id: int) -> None:
    """A DataLoader worker's init: ignore ``signums`` (the main process decides when
    to stop and shuts the workers down), then ``init_fn`` (mmengine's seeding)."""
    for signum in signums:
        signal.signal(signum, signal.SIG_IGN)
    if init_fn is not None:
        init_fn(worker_id)


def kill_signal_ignoring_workers() -> None:
    """At exit, SIGKILL the daemonic children (DataLoader workers, which ignore
    SIGTERM here): multiprocessing's own exit handler would SIGTERM them and then wait
    for them forever. Registered with ``atexit`` after multiprocessing's handler, so
    it runs first."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # torch's handler would raise on them
    for child in multiprocessing.active_children():
        if child.daemon:
            child.kill()
            child.join(timeout=5)


def _inside_train_of(runner_ref: Callable) -> Callable:
    """``is_training(frame)``: whether ``runner.train()`` is on the stack of ``frame``."""
    def is_training(frame) -> bool:
        runner = runner_ref()
        while frame is not None and runner is not None:
            if frame.f_code.co_name == 'train' and frame.f_locals.get('self') is runner:
                return True
            frame = frame.f_back
        return False
    return is_training


@HOOKS.register_module()
class PreemptionCheckpointHook(Hook):
    """On SIGTERM or SIGUSR1, write a checkpoint after the current iteration and
    exit 0 on every rank; ``--resume`` then continues from that iteration exactly.

    The signal handlers only set a flag (main process only; DataLoader workers
    ignore the signals). After every ``interval``-th iteration the ranks all-reduce
    the flag (max, one integer), so all of them stop after the same iteration even
    if only one was signalled. Rank 0 then writes ``iter_<n>.pth`` through the
    run's checkpoint hook settings (its folder and, with ``AtomicCheckpointHook``,
    the atomic writer) and points ``last_checkpoint`` at it; the checkpoint holds
    every rank's random states (``RandomStateHook``) and is a mid-epoch checkpoint
    of :class:`ResumableEpochBasedTrainLoop`. The ranks wait for the save, leave
    the process group and raise :class:`Preempted` (exit status 0).

    Latency: the rest of the current iteration, up to ``interval - 1`` more, and the
    save; a signal during validation acts after the next training iteration. A
    signal during the last iteration lets the run finish as usual.

    Args:
        interval: check the flag after every ``interval`` iterations.
        signals: names of the signals that stop the run.
        requeue: after the save, rank 0 runs ``scontrol requeue $SLURM_JOB_ID``
            (a batch job submitted with ``sbatch --requeue``) so that the job runs
            again and resumes with ``--resume``. ``None``: when the environment
            variable ``MMMIM_REQUEUE`` is 1 (``tools/slurm_train.sh --requeue``).
    """

    priority = 'LOWEST'  # after every other hook's after_train_iter (checkpoint too)

    def __init__(self, interval: int = 1, signals: Sequence[str] = ('SIGTERM', 'SIGUSR1'),
                 requeue: Optional[bool] = None) -> None:
        if interval < 1:
            raise ValueError(f'interval must be >= 1, got {interval}')
        self.interval = interval
        self.signums = tuple(int(getattr(signal, name)) for name in signals)
        self.requeue = requeue
        self.flag: Optional[SignalFlag] = None

    def before_train(self, runner) -> None:
        """Install the handlers; make the DataLoader workers ignore the signals."""
        self.flag = SignalFlag(self.signums, _inside_train_of(weakref.ref(runner)))
        try:
            self.flag.install()
        except ValueError:  # not the main thread: signals cannot be handled here
            self.flag = None
            print_log('PreemptionCheckpointHook: not the main thread, signals not '
                      'handled', logger='current', level=logging.WARNING)
            return
        loader = runner.train_dataloader
        if isinstance(loader, DataLoader):
            loader.worker_init_fn = functools.partial(ignore_in_worker, self.signums,
                                                      loader.worker_init_fn)
            if loader.num_workers > 0:
                atexit.unregister(kill_signal_ignoring_workers)  # once, and last in
                atexit.register(kill_signal_ignoring_workers)

    def after_train(self, runner) -> None:
        if self.flag is not None:
            self.flag.restore()

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        """Every ``interval`` iterations: stop here if any rank was signalled."""
        if self.flag is None or self.is_last_train_iter(runner):
            return
        if not self.every_n_train_iters(runner, self.interval):
            return
        signum = self._agreed_signal()
        if signum:
            self._stop(runner, signum)

    def _agreed_signal(self) -> int:
        """The largest signal number any rank has received, 0 for none (a
        collective: every rank gets the same answer)."""
        received = torch.tensor([self.flag.received or 0])
        if get_world_size() > 1:
            all_reduce(received, op='max')
        return int(received.item())

    def _stop(self, runner, signum: int) -> None:
        """Save, wait for the save on every rank, requeue, exit 0."""
        where = 'this rank' if self.flag.received == signum else 'another rank'
        step = runner.iter + 1
        runner.logger.info(f'Preemption ({signal.Signals(signum).name} on {where}): saving '
                           f'a checkpoint after iteration {step} and stopping; resume with '
                           '--resume')
        self._gather_random_states(runner)
        path = self._save(runner)
        barrier()  # rank 0's file is complete before any rank exits
        if is_main_process() and self._requeue_wanted():
            requeue_slurm_job(runner.logger)
        self.flag.restore()
        if torch_dist.is_available() and torch_dist.is_initialized():
            torch_dist.destroy_process_group()
        raise Preempted(f'preempted after iteration {step}; checkpoint {path}')

    @staticmethod
    def _gather_random_states(runner) -> None:
        """Have every rank's random states in the checkpoint (``RandomStateHook``)."""
        for hook in runner.hooks:
            if isinstance(hook, RandomStateHook):
                hook.gather_states(runner)

    @staticmethod
    def _save(runner) -> str:
        """``iter_<n>.pth`` where the checkpoint hook saves (atomically, on rank 0;
        ZeRO-sharded optimizer states gathered first, every rank taking part), unless
        that hook has just written it; ``last_checkpoint`` names it."""
        hook = next((h for h in runner.hooks if isinstance(h, CheckpointHook)), None)
        filename = f'iter_{runner.iter + 1}.pth'
        if hook is None:
            out_dir, options = runner.work_dir, dict(backend_args={'backend': ATOMIC_BACKEND})
            path = os.path.join(out_dir, filename)
        else:
            out_dir, path = hook.out_dir, hook.file_backend.join_path(hook.out_dir, filename)
            options = dict(file_client_args=hook.file_client_args,
                           backend_args=hook.backend_args, save_optimizer=hook.save_optimizer,
                           save_param_scheduler=hook.save_param_scheduler)
        if runner.message_hub.get_info('last_ckpt') == path:
            return path  # the checkpoint hook saved this iteration already
        if options.get('save_optimizer', True):  # every rank: ZeRO shards to rank 0
            consolidate_sharded_states(runner.optim_wrapper)
        runner.save_checkpoint(out_dir, filename, by_epoch=False, **options)  # rank 0
        runner.message_hub.update_info('last_ckpt', path)
        if is_main_process():
            write_atomically(path.encode(), os.path.join(runner.work_dir, 'last_checkpoint'))
        return path

    def _requeue_wanted(self) -> bool:
        if self.requeue is not None:
            return self.requeue
        return os.environ.get(REQUEUE_VAR, '0') == '1'


def requeue_slurm_job(logger) -> bool:
    """``scontrol requeue $SLURM_JOB_ID``; logs why when it cannot. Returns success."""
    job = os.environ.get('SLURM_JOB_ID')
    if not job:
        logger.warning('Requeue asked for, but SLURM_JOB_ID is not set (not a Slurm job)')
        return False
    try:
        done = subprocess.run(['scontrol', 'requeue', job], capture_output=True, text=True,
                              timeout=SCONTROL_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as error:
        logger.warning(f'Requeue of Slurm job {job} failed: {error}')
        return False
    if done.returncode != 0:
        logger.warning(f'Requeue of Slurm job {job} failed (scontrol exit status '
                       f'{done.returncode}): {done.stderr.strip()} (only batch jobs '
                       'submitted with sbatch --requeue can be requeued)')
        return False
    logger.info(f'Slurm job {job} requeued: it will resume from this checkpoint')
    return True
