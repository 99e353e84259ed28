"""Checkpoints that cannot be lost: AtomicCheckpointHook's saves survive a SIGKILL,
``--resume`` skips a broken latest checkpoint, ``--resume PATH`` names the problem."""
import json
import os
import shutil
import signal
import textwrap
from pathlib import Path

import pytest
import torch
from engine_doubles import TestRecordHook
from engine_runs import ROOT, log_text, run, tiny_demo_cfg
from killed_runs import start_until
from test_train_tool import train_tool

from mmmim.checkpoint_io import CheckpointError
from mmmim.engine.hooks.atomic_checkpoint_hook import check_resumable

HERE = Path(__file__).resolve().parent


def _killed_cfg(photos, work_dir):
    """One epoch of 3 iterations, a checkpoint each, only the latest kept."""
    return tiny_demo_cfg(photos, work_dir, max_epochs=1, ckpt_interval=1,
                         **{'default_hooks.checkpoint.max_keep_ckpts': 1})


def _killed_during_save(photos, work_dir: Path, records: Path, at_iter: int) -> str:
    """Train in a subprocess (a checkpoint every iteration, keep 1) and SIGKILL it
    while it writes the large checkpoint of iteration ``at_iter``; returns the name
    of the temporary file it was writing."""
    signal_file = work_dir.parent / 'saving'
    script = textwrap.dedent(f'''
        from engine_doubles import TestHangInSaveHook, TestRecordHook
        from engine_runs import build, train
        from test_atomic_checkpoints import _killed_cfg
        cfg = _killed_cfg({str(photos)!r}, {str(work_dir)!r})
        train(build(cfg, [TestRecordHook({str(records)!r}),
                          TestHangInSaveHook({at_iter}, {str(signal_file)!r}, 16)]))
    ''')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), str(HERE.parent), str(ROOT)]),
               OMP_NUM_THREADS='1')
    process = start_until(script, env, signal_file, work_dir.parent / 'output.txt')
    temporary = [n for n in os.listdir(work_dir) if n.startswith(f'.iter_{at_iter}.pth.tmp')]
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    return temporary[0] if temporary else ''


@pytest.fixture(scope='module')
def uninterrupted(small_photos_dir, tmp_path_factory):
    """One epoch (12 images, batch 4: 3 iterations), a checkpoint every iteration,
    all kept: ``(work dir, per-iteration records)``."""
    work_dir = tmp_path_factory.mktemp('uninterrupted')
    record = TestRecordHook()
    run(tiny_demo_cfg(small_photos_dir, work_dir, max_epochs=1, ckpt_interval=1), [record])
    return work_dir, record.records


def test_sigkill_during_save__previous_checkpoint_kept_and_resume_is_exact(
        small_photos_dir, tmp_path, uninterrupted):
    """The run of ``uninterrupted`` with max_keep_ckpts=1, SIGKILLed while writing
    iter_2.pth (a 16 MB payload, written to its temporary file, not yet renamed):
    iter_1.pth and last_checkpoint are intact (mmengine would have deleted
    iter_1.pth before the save), and the resumed run's batches and losses equal the
    uninterrupted run's exactly."""
    _, full = uninterrupted
    work_dir = tmp_path / 'killed'
    work_dir.mkdir()
    records = tmp_path / 'records'
    records.mkdir()
    temporary = _killed_during_save(small_photos_dir, work_dir, records, at_iter=2)
    assert temporary, 'the save had not created its temporary file'
    assert sorted(n for n in os.listdir(work_dir) if n.endswith('.pth')) == ['iter_1.pth']
    assert (work_dir / 'last_checkpoint').read_text().strip() == str(work_dir / 'iter_1.pth')
    torch.load(work_dir / 'iter_1.pth', weights_only=True)  # complete

    first = [json.loads(line) for line in (records / 'rank0.jsonl').read_text().splitlines()]
    assert [r['iter'] for r in first] == [0]
    rest = TestRecordHook()
    runner = run(_killed_cfg(small_photos_dir, work_dir), [rest], resume=True)
    resumed = first + rest.records
    assert [r['iter'] for r in resumed] == [0, 1, 2]
    assert [r['paths'] for r in resumed] == [r['paths'] for r in full]
    assert [r['loss'] for r in resumed] == [r['loss'] for r in full]
    assert temporary not in os.listdir(work_dir)  # the next run cleaned it up
    assert f'Removed {temporary}' in log_text(runner)
    assert sorted(n for n in os.listdir(work_dir) if n.endswith('.pth')) == ['iter_3.pth']


def test_resume_auto__truncated_latest_checkpoint_skipped_with_the_reason(
        small_photos_dir, tmp_path, uninterrupted):
    """The checkpoints of ``uninterrupted`` with iter_3.pth cut in half (a save
    killed under plain mmengine): ``resume=True`` logs that it skipped iter_3.pth as
    truncated, resumes iter_2.pth, and its iteration 3 repeats the uninterrupted
    run's loss exactly."""
    source, full = uninterrupted
    for name in ('iter_1.pth', 'iter_2.pth', 'iter_3.pth'):
        shutil.copy2(source / name, tmp_path / name)
    latest = tmp_path / 'iter_3.pth'
    (tmp_path / 'last_checkpoint').write_text(str(latest))
    latest.write_bytes(latest.read_bytes()[:latest.stat().st_size // 2])
    cfg = tiny_demo_cfg(small_photos_dir, tmp_path, max_epochs=1, ckpt_interval=1)
    rest = TestRecordHook()
    log = log_text(run(cfg, [rest], resume=True))
    assert f'Resume: skipped {latest}: truncated' in log
    assert f'the newest checkpoint that loads is {tmp_path / "iter_2.pth"}' in log
    assert [r['iter'] for r in rest.records] == [2]
    assert rest.records[0]['loss'] == full[2]['loss']


class _RunsCode:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}',)


def _bad_checkpoint(kind: str, folder: Path) -> Path:
    path = folder / f'{kind}.pth'
    if kind == 'truncated':
        torch.save({'meta': {}, 'state_dict': {'w': torch.zeros(10000)}}, path)
        path.write_bytes(path.read_bytes()[:20000])
    elif kind == 'garbage':
        path.write_bytes(b'\x89PNG\r\n\x1a\n' + bytes(range(256)) * 10)
    else:
        torch.save({'state_dict': {}, 'hook': _RunsCode(str(folder / 'ran'))}, path)
    return path


BAD_FILES = [('truncated', 'truncated: a zip archive'),
             ('garbage', 'not a checkpoint: starts with'),
             ('code', 'code-executing pickle refused: it asks for posix.system')]


@pytest.mark.parametrize('kind, problem', BAD_FILES)
def test_check_resumable__bad_file_named_with_its_problem_and_never_run(
        tmp_path, kind, problem):
    bad = _bad_checkpoint(kind, tmp_path)
    with pytest.raises(CheckpointError) as error:
        check_resumable(str(bad))
    assert str(error.value).startswith(f'cannot load checkpoint {bad}: {problem}')
    assert not (tmp_path / 'ran').exists()  # refused, not run


def test_resume_path__bad_file_stops_train_py_naming_it_and_the_problem(
        small_photos_dir, tmp_path):
    """Through tools/train.py: the hook checks the file before the Runner loads it."""
    config = tmp_path / 'tiny.py'
    tiny_demo_cfg(small_photos_dir, tmp_path / 'run').dump(config)
    bad = _bad_checkpoint('truncated', tmp_path)
    with pytest.raises(SystemExit) as error:
        train_tool.main([str(config), '--work-dir', str(tmp_path / 'run'), '--resume',
                         str(bad)])
    assert f'error: cannot load checkpoint {bad}: truncated: a zip archive' \
        in str(error.value)


def test_check_resumable__converted_model_is_not_a_training_checkpoint(tmp_path):
    path = tmp_path / 'converted.pth'
    torch.save({'state_dict': {'w': torch.zeros(2)}}, path)
    with pytest.raises(CheckpointError, match='not a training checkpoint: no meta, '
                       'message_hub'):
        check_resumable(str(path))
