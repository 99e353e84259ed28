"""PreemptionCheckpointHook: SIGTERM or SIGUSR1 mid-epoch stops every rank after the
same iteration with a resumable checkpoint and exit status 0, and ``--resume``
continues as if the run had never stopped."""
import json
import os
import signal
import sys
from functools import partial
from pathlib import Path

import pytest
import torch
from engine_doubles import TestRecordHook
from engine_runs import ROOT, build, checkpoints, log_text, run, tiny_demo_cfg, train
from preemption_doubles import TestSignalHook
from test_launchers import ENGINE_TESTS, fake_program, free_port, run_group
from torch.utils.data import DataLoader

from mmmim.checkpoint_io import read_checkpoint
from mmmim.engine.hooks import Preempted, PreemptionCheckpointHook
from mmmim.engine.hooks.atomic_checkpoint_hook import check_resumable, last_checkpoint_target
from mmmim.engine.hooks.preemption_hook import SignalFlag, ignore_in_worker

HOOK_IMPORTS = dict(imports=['engine_doubles', 'preemption_doubles'], allow_failed_imports=False)


@pytest.fixture
def usr1_recorded():
    """SIGUSR1 handled by a Python function that records it (restored afterwards)."""
    calls = []
    previous = signal.signal(signal.SIGUSR1, lambda signum, frame: calls.append(signum))
    yield calls
    signal.signal(signal.SIGUSR1, previous)


def test_signal_flag__during_training_records_the_signal_and_chains_the_previous_handler(
        usr1_recorded):
    flag = SignalFlag([signal.SIGUSR1], is_training=lambda frame: True)
    flag.install()
    signal.raise_signal(signal.SIGUSR1)
    signal.raise_signal(signal.SIGUSR1)
    assert flag.received == signal.SIGUSR1 and usr1_recorded == [signal.SIGUSR1] * 2
    flag.restore()
    signal.raise_signal(signal.SIGUSR1)
    assert usr1_recorded == [signal.SIGUSR1] * 3


def test_signal_flag__outside_training_the_signal_is_handled_as_before(usr1_recorded):
    """A handler left installed (a crashed run) gives the signal back: here the
    previous Python handler; in a subprocess the default action, termination."""
    before = signal.getsignal(signal.SIGUSR1)
    flag = SignalFlag([signal.SIGUSR1], is_training=lambda frame: False)
    flag.install()
    signal.raise_signal(signal.SIGUSR1)
    assert flag.received is None and usr1_recorded == [signal.SIGUSR1]
    assert signal.getsignal(signal.SIGUSR1) is before

    pid = os.fork()  # a process whose SIGTERM disposition is the default
    if pid == 0:
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            SignalFlag([signal.SIGTERM], is_training=lambda frame: False).install()
            signal.raise_signal(signal.SIGTERM)
        finally:
            os._exit(3)  # only if the signal did not terminate it
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM


class _SignalsItself:
    """Items 0..3; fetching one sends SIGTERM and SIGUSR1 to the worker process."""

    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int) -> int:
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGUSR1)
        return index * 10 + INIT_CALLS.get('worker', 0)


INIT_CALLS: dict = {}


def _count_init(worker_id: int) -> None:
    INIT_CALLS['worker'] = 1 + worker_id


def test_ignore_in_worker__dataloader_workers_survive_the_signals_and_still_seed():
    """Slurm signals every process of a step: the workers (which exit with SIGTERM
    by torch's handler, and with SIGUSR1 by default) ignore both; the wrapped
    init function (mmengine's seeding) still runs."""
    signums = (signal.SIGTERM, signal.SIGUSR1)
    loader = DataLoader(_SignalsItself(), batch_size=2, num_workers=1,
                        multiprocessing_context='fork',
                        worker_init_fn=partial(ignore_in_worker, signums, _count_init))
    assert [b.tolist() for b in loader] == [[1, 11], [21, 31]]
    unprotected = DataLoader(_SignalsItself(), batch_size=2, num_workers=1,
                             multiprocessing_context='fork')
    with pytest.raises(RuntimeError, match='DataLoader worker'):
        list(unprotected)


def test_hook__one_process_epoch_checkpoints_signal_mid_epoch_then_resume_is_exact(
        small_photos_dir, tmp_path):
    """The default runtime's checkpoints (every epoch), 12 images, batch 4: SIGUSR1
    after iteration 2 of 3 writes ``iter_2.pth`` (epoch 0, iteration 2), which
    ``last_checkpoint`` names; :class:`Preempted` (exit code 0) ends the run with the
    handlers restored (the DataLoader's workers would ignore the signals). A resume
    picks that file and gives the uninterrupted run's losses."""
    def cfg(work_dir):
        return tiny_demo_cfg(small_photos_dir, work_dir, **{
            'default_hooks.checkpoint.by_epoch': True, 'default_hooks.checkpoint.interval': 1})

    full = TestRecordHook()
    run(cfg(tmp_path / 'full'), [full])
    before = signal.getsignal(signal.SIGUSR1)
    first, work = TestRecordHook(), tmp_path / 'preempted'
    runner = build(cfg(work), [first, TestSignalHook([[2, 0, 'SIGUSR1']]),
                               PreemptionCheckpointHook()])
    with pytest.raises(Preempted) as stopped:
        train(runner)
    assert stopped.value.code == 0
    assert signal.getsignal(signal.SIGUSR1) is before
    assert runner.train_dataloader.worker_init_fn.func is ignore_in_worker
    saved = str(work / 'iter_2.pth')
    assert last_checkpoint_target(str(work)) == saved
    assert {k: check_resumable(saved)[k] for k in ('epoch', 'iter')} == dict(epoch=0, iter=2)
    assert 'Preemption (SIGUSR1 on this rank): saving a checkpoint after iteration 2' in \
        log_text(runner)

    rest = TestRecordHook()
    run(cfg(work), [rest, PreemptionCheckpointHook()], resume=True)
    assert [r['iter'] for r in first.records + rest.records] == list(range(6))
    assert [r['loss'] for r in first.records + rest.records] == \
        [r['loss'] for r in full.records]
    assert checkpoints(work) == ['epoch_1.pth', 'epoch_2.pth', 'iter_2.pth']


def preemption_cfg(images_dir, records: Path, plan=()):
    """2 epochs of 3 iterations per rank (12 images, 2 per rank and batch), the demo's
    random crops and random masks drawn by each rank (so a resume must restore every
    rank's random states), the sampler's shuffle seed fixed, checkpoints only at the
    end: a preemption checkpoint is the only one mid-run. ``plan``: TestSignalHook's."""
    records.mkdir()
    return tiny_demo_cfg(images_dir, 'unused', batch_size=2, max_epochs=2, ckpt_interval=100, **{
        'train_dataloader.sampler.seed': 0,
        'custom_hooks': [dict(type='RandomStateHook'),
                         dict(type='TestRecordHook', out_dir=str(records)),
                         dict(type='TestSignalHook', plan=[list(p) for p in plan]),
                         dict(type='PreemptionCheckpointHook')],
        'custom_imports': HOOK_IMPORTS})


def records_of(folder: Path) -> list:
    """Per rank, the TestRecordHook records (every run that appended to them)."""
    return [[json.loads(line) for line in (folder / f'rank{r}.jsonl').read_text().splitlines()]
            for r in (0, 1)]


@pytest.mark.slow
def test_dist_train__sigterm_then_sigusr1_mid_epoch_stop_both_ranks_and_resume_exactly(
        small_photos_dir, tmp_path):
    """Two gloo ranks under tools/dist_train.sh, run again and again with the same
    command line (``--resume`` from the start, as a requeued job is): rank 0 gets
    SIGTERM after iteration 2 (epoch 1, batch 2 of 3), the resumed run's rank 1 gets
    SIGUSR1 after iteration 5 (epoch 2, batch 2 of 3), a third run finishes. Both
    interrupted runs exit 0 on both ranks with that iteration's checkpoint, rank 0
    alone requeues (a fake scontrol), and every iteration's loss and batch on both
    ranks, and the final weights, equal those of an uninterrupted run."""
    scontrol = fake_program(tmp_path / 'scontrol', tmp_path / 'scontrol_args')
    env = dict(os.environ, PYTHON=sys.executable, MASTER_PORT=str(free_port()),
               OMP_NUM_THREADS='1', PATH=f'{scontrol.parent}:{os.environ["PATH"]}',
               SLURM_JOB_ID='4242', MMMIM_REQUEUE='1',
               PYTHONPATH=os.pathsep.join([str(ENGINE_TESTS), str(ROOT)]))

    def dist_train(config: Path, work_dir: Path, *args) -> str:
        result = run_group(['bash', ROOT / 'tools' / 'dist_train.sh', config, '2',
                            '--work-dir', work_dir, *args], env, timeout=180)
        assert result.returncode == 0, result.stdout[-4000:]
        return result.stdout

    reference = tmp_path / 'reference.py'
    preemption_cfg(small_photos_dir, tmp_path / 'full_records').dump(reference)
    dist_train(reference, tmp_path / 'full')
    preempted = tmp_path / 'preempted.py'
    preemption_cfg(small_photos_dir, tmp_path / 'records',
                   [(2, 0, 'SIGTERM'), (5, 1, 'SIGUSR1')]).dump(preempted)
    work = tmp_path / 'preempted'

    out = dist_train(preempted, work, '--resume')  # nothing to resume yet: starts fresh
    assert 'Preemption (SIGTERM on this rank): saving a checkpoint after iteration 2' in out
    assert last_checkpoint_target(str(work)) == str(work / 'iter_2.pth')
    assert (tmp_path / 'scontrol_args').read_text() == 'requeue\n4242\n'
    out = dist_train(preempted, work, '--resume')
    assert 'Resuming epoch 1 at batch 3 of 3' in out
    assert 'Preemption (SIGUSR1 on another rank): saving a checkpoint after iteration 5' in out
    assert check_resumable(str(work / 'iter_5.pth'))['iter'] == 5
    out = dist_train(preempted, work, '--resume')
    assert 'Resuming epoch 2 at batch 3 of 3' in out and 'Preemption (' not in out

    full, resumed = records_of(tmp_path / 'full_records'), records_of(tmp_path / 'records')
    for rank in (0, 1):
        assert [r['iter'] for r in resumed[rank]] == list(range(6))
        assert [r['paths'] for r in resumed[rank]] == [r['paths'] for r in full[rank]]
        assert [r['loss'] for r in resumed[rank]] == [r['loss'] for r in full[rank]]
    final = [read_checkpoint(str(d / 'iter_6.pth'), map_location='cpu')['state_dict']
             for d in (tmp_path / 'full', work)]
    assert final[0].keys() == final[1].keys()
    assert all(torch.equal(final[0][k], final[1][k]) for k in final[0])


def test_run_with_persistent_workers__process_exits_after_training(small_photos_dir, tmp_path):
    """Workers ignore SIGTERM (the hook's doing), and multiprocessing's exit handler
    SIGTERMs daemonic children and then waits for them: without the hook's own exit
    handler, a finished run with persistent workers never exits."""
    import subprocess
    import textwrap
    script = textwrap.dedent(f'''
        from engine_runs import build, tiny_demo_cfg, train
        cfg = tiny_demo_cfg({str(small_photos_dir)!r}, {str(tmp_path / 'run')!r},
                            max_epochs=2, ckpt_interval=1000)
        cfg.custom_hooks = cfg.custom_hooks[:1] + [dict(type='PreemptionCheckpointHook')]
        cfg.train_dataloader.num_workers = 1
        cfg.train_dataloader.persistent_workers = True
        train(build(cfg))
        print('trained', flush=True)
    ''')
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=os.pathsep.join(
        [str(ENGINE_TESTS), str(ENGINE_TESTS.parent), str(ROOT)]))
    result = subprocess.run([sys.executable, '-c', script], env=env, capture_output=True,
                            text=True, timeout=180)
    assert result.returncode == 0 and 'trained' in result.stdout, result.stderr[-3000:]
