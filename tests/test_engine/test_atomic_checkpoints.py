"""Checkpoints that cannot be lost: AtomicCheckpointHook's saves survive a SIGKILL,
``--resume`` skips a broken latest checkpoint, ``--resume PATH`` names the problem."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from engine_doubles import TestRecordHook
from engine_runs import ROOT, log_text, run, tiny_demo_cfg
from test_train_tool import train_tool

HERE = Path(__file__).resolve().parent


def _killed_during_save(photos, work_dir: Path, records: Path, at_iter: int) -> str:
    """Train in a subprocess (a checkpoint every iteration, keep 1) and SIGKILL it
    while it writes the large checkpoint of iteration ``at_iter``; returns the name
    of the temporary file it was writing."""
    signal_file = work_dir.parent / 'saving'
    script = textwrap.dedent(f'''
        from engine_doubles import TestHangInSaveHook, TestRecordHook
        from engine_runs import build, tiny_demo_cfg, train
        cfg = tiny_demo_cfg({str(photos)!r}, {str(work_dir)!r}, ckpt_interval=1,
                            **{{'default_hooks.checkpoint.max_keep_ckpts': 1}})
        train(build(cfg, [TestRecordHook({str(records)!r}),
                          TestHangInSaveHook({at_iter}, {str(signal_file)!r})]))
    ''')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), str(ROOT)]),
               OMP_NUM_THREADS='1')
    process = subprocess.Popen([sys.executable, '-c', script], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while not signal_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f'the run never reached the save: {process.stderr.read()[-3000:]}')
        time.sleep(0.05)
    temporary = [n for n in os.listdir(work_dir) if n.startswith(f'.iter_{at_iter}.pth.tmp')]
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    return temporary[0] if temporary else ''


def test_sigkill_during_save__previous_checkpoint_kept_and_resume_is_exact(
        small_photos_dir, tmp_path):
    """12 images, batch 4, 6 iterations, a checkpoint every iteration with
    max_keep_ckpts=1. The process is SIGKILLed while writing iter_4.pth (64 MB
    payload, written to its temporary file, not yet renamed): iter_3.pth and
    last_checkpoint are intact (mmengine would have deleted iter_3.pth before the
    save), and the resumed run's losses equal the uninterrupted run's."""
    full = TestRecordHook()
    run(tiny_demo_cfg(small_photos_dir, tmp_path / 'full', ckpt_interval=1), [full])

    work_dir = tmp_path / 'killed'
    work_dir.mkdir()
    records = tmp_path / 'records'
    records.mkdir()
    temporary = _killed_during_save(small_photos_dir, work_dir, records, at_iter=4)
    assert temporary, 'the save had not created its temporary file'
    assert sorted(n for n in os.listdir(work_dir) if n.endswith('.pth')) == ['iter_3.pth']
    assert (work_dir / 'last_checkpoint').read_text().strip() == str(work_dir / 'iter_3.pth')
    torch.load(work_dir / 'iter_3.pth', weights_only=True)  # complete

    first = [json.loads(line) for line in (records / 'rank0.jsonl').read_text().splitlines()]
    assert [r['iter'] for r in first] == [0, 1, 2]
    cfg = tiny_demo_cfg(small_photos_dir, work_dir, ckpt_interval=1,
                        **{'default_hooks.checkpoint.max_keep_ckpts': 1})
    rest = TestRecordHook()
    runner = run(cfg, [rest], resume=True)
    resumed = first + rest.records
    assert [r['iter'] for r in resumed] == list(range(6))
    assert [r['paths'] for r in resumed] == [r['paths'] for r in full.records]
    assert [r['loss'] for r in resumed] == [r['loss'] for r in full.records]
    assert temporary not in os.listdir(work_dir)  # the next run cleaned it up
    assert f'Removed {temporary}' in log_text(runner)
    assert sorted(n for n in os.listdir(work_dir) if n.endswith('.pth')) == ['iter_6.pth']


def test_resume_auto__truncated_latest_checkpoint_skipped_with_the_reason(
        small_photos_dir, tmp_path):
    """One epoch of 3 iterations, a checkpoint each; iter_3.pth is then cut in half
    (a save killed under plain mmengine). ``resume=True`` logs that it skipped
    iter_3.pth as truncated, resumes iter_2.pth, and its iteration 3 repeats the
    first run's loss exactly."""
    cfg = tiny_demo_cfg(small_photos_dir, tmp_path, max_epochs=1, ckpt_interval=1)
    first = TestRecordHook()
    run(cfg, [first])
    latest = tmp_path / 'iter_3.pth'
    latest.write_bytes(latest.read_bytes()[:latest.stat().st_size // 2])
    rest = TestRecordHook()
    log = log_text(run(cfg, [rest], resume=True))
    assert f'Resume: skipped {latest}: truncated' in log
    assert f'the newest checkpoint that loads is {tmp_path / "iter_2.pth"}' in log
    assert [r['iter'] for r in rest.records] == [2]
    assert rest.records[0]['loss'] == first.records[2]['loss']


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


@pytest.mark.parametrize('kind, problem', [
    ('truncated', 'truncated: a zip archive'), ('garbage', 'not a checkpoint: starts with'),
    ('code', 'code-executing pickle refused: it asks for posix.system')])
def test_resume_path__bad_file_fails_naming_it_and_the_problem(
        small_photos_dir, tmp_path, kind, problem):
    config = tmp_path / 'tiny.py'
    tiny_demo_cfg(small_photos_dir, tmp_path / 'run').dump(config)
    bad = _bad_checkpoint(kind, tmp_path)
    with pytest.raises(SystemExit) as error:
        train_tool.main([str(config), '--work-dir', str(tmp_path / 'run'), '--resume',
                         str(bad)])
    assert f'error: cannot load checkpoint {bad}: {problem}' in str(error.value)
    assert not (tmp_path / 'ran').exists()  # refused, not run
