"""tools/gpu_check.sh: the review's GPU checklist as one script. On this CPU machine it
runs the env lines and marks every GPU line 'needs GPU'; the parts that decide a
line (loss comparison, rows, table, pip command lines, the mmcv stand-in) are tested
directly, and the step-profile probe runs on the CPU."""
import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
sys.path.insert(0, str(ROOT / 'tools'))
from gpucheck import downstream, host, ops_build, report, steps, wheels  # noqa: E402
from gpucheck.context import Context, Proc, probe, run  # noqa: E402
from gpucheck.probes import probe_downstream_config  # noqa: E402

from mimbench.downstream import innermost_dataset  # noqa: E402

# slow: left out of `make test-fast` (make test runs everything)
pytestmark = pytest.mark.slow


@pytest.fixture(scope='module')
def gpu_check():
    spec = importlib.util.spec_from_file_location('gpu_check', ROOT / 'tools/gpu_check.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gpu_check_sh__without_cuda_runs_env_and_marks_each_gpu_line(gpu_check, tmp_path):
    env = dict(os.environ, PYTHON=sys.executable, CUDA_VISIBLE_DEVICES='')
    done = subprocess.run(['bash', ROOT / 'tools/gpu_check.sh', '--work-dir', tmp_path,
                           '--steps', 'env', '--budget-s', '200'],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    record = json.loads((tmp_path / 'gpu_check.json').read_text())
    rows = record['rows']
    assert {r['step'] for r in rows} == {s.name for s in gpu_check.STEPS}
    assert {r['status'] for r in rows} <= set(report.STATUSES)
    gpu_steps = {s.name for s in gpu_check.STEPS if s.gpu}
    for row in rows:
        if row['step'] in gpu_steps:
            assert (row['status'], row['note']) == ('skip', report.NEEDS_GPU), row
    env_rows = {r['name']: r for r in rows if r['step'] == 'env'}
    assert env_rows['OpenMMLab stack']['status'] == 'pass'
    assert env_rows['torch on the GPU']['status'] == 'skip'
    assert [r for r in rows if r['step'] == 'loader'][0]['note'] == 'not selected (--steps)'
    table = done.stdout[done.stdout.index('== GPU check'):]
    assert table.count(report.NEEDS_GPU) == sum(r['note'] == report.NEEDS_GPU for r in rows)
    assert record['summary']['fail'] == 0 and record['meta']['device'] == 'no GPU'


def test_prepare__downloads_pinned_wheels_for_the_target_python_and_mmcv_source():
    binary, source = wheels.prepare_commands('DIR', '3.12', 'manylinux2014_x86_64')
    assert binary[binary.index('--python-version') + 1] == '3.12'
    assert {'--only-binary=:all:', '--no-deps', 'mmengine==0.10.7', 'mmdet==3.3.0',
            'mmpretrain==1.2.0', 'mmsegmentation==1.2.2', 'pycocotools'} <= set(binary)
    assert 'manylinux2014_x86_64' in binary and 'manylinux_2_28_x86_64' in binary
    assert not any(name.startswith(('opencv', 'torch', 'mmcv')) for name in binary)
    assert source[-3:] == ['--no-binary', ':all:', 'mmcv==2.1.0']
    assert source[source.index('--dest') + 1] == 'DIR'
    with_cv = wheels.prepare_commands('DIR', '3.11', 'manylinux2014_x86_64', True)[0]
    assert 'opencv-python-headless' in with_cv


def test_prepare_dry_run__prints_the_pip_commands_and_downloads_nothing(tmp_path):
    done = subprocess.run([sys.executable, ROOT / 'tools/gpu_check.py', '--prepare',
                           tmp_path / 'wheels', '--dry-run'],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    commands = [line for line in done.stdout.splitlines() if line.startswith('+ ')]
    assert len(commands) == 2 and all(' -m pip download ' in c for c in commands)
    assert os.listdir(tmp_path / 'wheels') == []


def test_wheels_to_install__openmmlab_always_others_when_missing_build_tools_apart(tmp_path):
    names = ['mmengine-0.10.7-py3-none-any.whl', 'addict-2.4.0-py3-none-any.whl',
             'ordered_set-4.1.0-py3-none-any.whl', 'setuptools-69.5.1-py3-none-any.whl',
             'ninja-1.13.2-py3-none-manylinux2014_x86_64.whl', 'mmcv-2.1.0.tar.gz']
    for name in names:
        (tmp_path / name).touch()
    plan = wheels.wheels_to_install(str(tmp_path), {'mmengine': '0.9', 'addict': '2.4.0'})
    assert [Path(p).name for p in plan['site']] == [names[0], names[2]]
    assert [Path(p).name for p in plan['build']] == [names[4], names[3]]
    assert Path(wheels.mmcv_archive(str(tmp_path))).name == 'mmcv-2.1.0.tar.gz'


def test_mmcv_stand_in__has_every_op_and_raises_when_one_is_called(tmp_path):
    (tmp_path / 'fake_ext.py').write_text(wheels.MMCV_EXT_STUB)
    spec = importlib.util.spec_from_file_location('fake_ext', tmp_path / 'fake_ext.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert hasattr(module, 'nms') and hasattr(module, 'roi_align_forward')
    with pytest.raises(RuntimeError, match='without its compiled ops: nms'):
        module.nms()


def test_ops_build__raises_mmcv_cxx_standard_only_for_headers_that_need_cxx20(tmp_path):
    (tmp_path / 'c10/macros').mkdir(parents=True)
    header = tmp_path / 'c10/macros/Macros.h'
    header.write_text('#error "C++17 or later compatible compiler is required"')
    assert not ops_build.needs_cxx20(str(tmp_path))
    header.write_text('#error "C++20 or later compatible compiler is required"')
    assert ops_build.needs_cxx20(str(tmp_path))
    setup = tmp_path / 'setup.py'
    setup.write_text("args = ['-std=c++17']; nvcc = ['-std=c++17']")
    ops_build.raise_cxx_standard(str(setup))
    assert setup.read_text() == "args = ['-std=c++20']; nvcc = ['-std=c++20']"


def scalars(work_dir: Path, stamp: str, losses) -> None:
    vis = work_dir / stamp / 'vis_data'
    vis.mkdir(parents=True)
    lines = [json.dumps(dict(lr=1e-3, loss=x, step=i)) for i, x in enumerate(losses)]
    (vis / 'scalars.json').write_text('\n'.join([json.dumps(dict(lr=1.0))] + lines) + '\n')


def test_resume_line__reads_the_newest_run_and_compares_the_last_loss(tmp_path):
    scalars(tmp_path / 'a', '20261207_100000', [9.0, 9.0])
    scalars(tmp_path / 'a', '20261207_110000', [3.0, 2.0, 1.234567])
    assert report.read_losses(str(tmp_path / 'a')) == [3.0, 2.0, 1.234567]
    assert report.losses_agree([3.0, 1.234567], [1.2345671])
    assert not report.losses_agree([3.0, 1.234567], [1.2347])
    assert not report.losses_agree([float('nan')], [float('nan')])
    assert not report.losses_agree([1.0], [])
    with pytest.raises(FileNotFoundError):
        report.read_losses(str(tmp_path / 'b'))


def test_table__one_line_per_row_with_status_and_cut_notes():
    rows = [report.Row('env', 'nvcc', 'figure', 'release 13.0', 'x' * 100),
            report.Row('demo', 'resume', 'skip', '', report.NEEDS_GPU)]
    lines = report.format_table(rows).splitlines()
    assert len(lines) == 3 and lines[0].split()[:3] == ['step', 'line', 'status']
    assert 'FIGURE' in lines[1] and lines[1].endswith('...') and len(lines[1]) < 140
    assert lines[2].split() == ['demo', 'resume', 'SKIP', 'needs', 'GPU']
    with pytest.raises(ValueError):
        report.Row('env', 'x', 'ok')


def test_bench_line__flop_fraction_against_the_measured_ceiling_and_failures():
    config = 'configs/mae/mae_vit-base-p16_8xb512-amp-coslr-400e_in1k.py'
    record = dict(error=None, images_per_s=1500.0, peak_mem_mb=30 * 1024,
                  achieved_flops_per_s=4e14, batch_size=128)
    row = steps.bench_line(config, record, ceiling=8e14)
    assert (row.name, row.status) == ('mae_vit-base-p16', 'figure')
    assert row.value == '1500 img/s, 30.0 GB, 50% of bf16 peak'
    assert row.note == 'batch 128 per GPU'
    oom = steps.bench_line(config, dict(error='train step: OutOfMemoryError'), 8e14)
    assert oom.status == 'fail' and 'OutOfMemoryError' in oom.note


def test_ops_rows__bf16_roi_align_failing_is_the_expected_result():
    ok = dict(ok=True, value='(2, 8, 7, 7)')
    record = dict(roi_align_float32=ok, roi_align_float16=ok, nms=dict(ok=True, value='80'),
                  roi_align_bfloat16=dict(ok=False, error='RuntimeError: not implemented '
                                          "for 'BFloat16'"))
    rows = {r.name: r for r in downstream.ops_rows(record)}
    assert rows['roi_align bf16'].status == 'pass'
    assert rows['roi_align bf16'].value == 'expected fail'
    assert all(rows[n].status == 'pass' for n in ('roi_align fp32', 'roi_align fp16', 'nms'))
    record['nms'] = dict(ok=False, error='NotImplementedError: nms for device cuda:0')
    assert {r.name: r for r in downstream.ops_rows(record)}['nms'].status == 'fail'


def test_gpu_rows__a_visible_gpu_that_torch_cannot_use_fails():
    facts = dict(torch='2.14.1+cu130', torch_cuda='13.0', cuda_available=False,
                 nvidia_smi='NVIDIA A100, 535.104, 81920 MiB')
    row = host.gpu_rows(facts)[1]
    assert row.status == 'fail' and 'finding 4' in row.note
    row = host.gpu_rows(dict(facts, nvidia_smi=None))[1]
    assert (row.status, row.note) == ('skip', report.NEEDS_GPU)


def test_checked_configs__each_pattern_names_one_shipped_config():
    for pattern in steps.BENCH_CONFIGS:
        assert (ROOT / steps.config_path(pattern)).is_file()
    for path in (steps.DEMO, steps.MASK_RCNN, steps.UPERNET):
        assert (ROOT / path).is_file()


def test_run__kills_a_command_and_its_own_group_children_at_the_time_limit(tmp_path):
    pid_file = tmp_path / 'child.pid'
    spawn = ("import os, subprocess, sys, time; child = subprocess.Popen(['sleep', '60'], "
             "preexec_fn=os.setpgrp); open(sys.argv[1], 'w').write(str(child.pid)); "
             "time.sleep(60)")  # a child in a process group of its own, as ninja's
    proc = run([sys.executable, '-c', spawn, pid_file], timeout=3)
    assert proc.code is None and proc.error_line().startswith('timed out')
    child = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        for _ in range(50):  # a killed child stays a zombie until its parent is gone
            os.kill(child, 0)
            state = Path(f'/proc/{child}/stat').read_text().rsplit(')', 1)[1].split()[0]
            if state == 'Z':
                raise ProcessLookupError
            time.sleep(0.1)


def test_step_profile_probe__on_cpu_lists_the_attention_ops_of_one_step(tmp_path):
    ctx = Context(str(tmp_path), python=sys.executable)
    record, proc = probe(ctx, 'step_profile', 300, '--configs', steps.DEMO, '--batch', '2',
                         '--device', 'cpu')
    assert record is not None, proc.tail
    assert record['syncs'] == [] and record['device'] == 'cpu'
    # bf16 on the CPU takes the explicit softmax path (fast_blocks.softmax_as_is)
    assert any('softmax' in name for name in record['attention'])
    assert len(record['top_us']) == 8 and record['top_us'][0][1] > 0


@pytest.mark.parametrize('config, dataset', [(steps.MASK_RCNN, 'coco'), (steps.UPERNET, 'ade')])
def test_downstream_config_probe__points_every_loader_at_the_tiny_data(config, dataset,
                                                                       tmp_path):
    from mmengine.config import Config
    written = tmp_path / 'tiny.py'
    args = argparse.Namespace(configs=[str(ROOT / config)], data=str(tmp_path / 'data'),
                              write=str(written))
    probe_downstream_config(args)
    cfg = Config.fromfile(str(written))
    for split in ('train', 'val', 'test'):
        root = innermost_dataset(cfg[f'{split}_dataloader'].dataset).data_root
        assert root.rstrip('/') == str(tmp_path / 'data' / dataset)
    if dataset == 'coco':
        assert cfg.val_evaluator.ann_file.startswith(str(tmp_path / 'data/coco/annotations'))
    assert cfg.train_cfg == dict(type='IterBasedTrainLoop', max_iters=2, val_interval=2)
    assert cfg.model.init_cfg is None and cfg.default_hooks.checkpoint is None


def test_error_line__the_exception_of_a_rank_not_the_launchers_summary():
    tail = ("[rank0]:   File 'x.py', line 3\n[rank0]: ValueError: float16 autocast needs "
            "a CUDA device\ntorch.distributed.elastic.multiprocessing.errors."
            "ChildFailedError:\n  exitcode  : 1\n")
    assert Proc(1, 2.0, tail).error_line() == 'ValueError: float16 autocast needs a CUDA device'
    assert Proc(1, 2.0, 'no exception here\nlast line').error_line() == 'last line'


def test_start_ops_build__says_why_no_build_starts(tmp_path):
    def note(cuda=True, archive='mmcv-2.1.0.tar.gz', wanted=True, **facts):
        ctx = Context(str(tmp_path), cuda=cuda, archive=archive)
        ctx.facts = dict(dict(mmcv_ops='no compiled ops', nvcc='release 13.0',
                              capability='9.0', ops_plan=dict(error=None)), **facts)
        downstream.start_ops_build(ctx, wanted)
        assert ctx.ops_build is None
        return ctx.ops_path, ctx.ops_note
    assert note(mmcv_ops='CUDA 13.0') == ('', 'installed mmcv has CUDA 13.0 ops')
    assert note(wanted=False)[1].endswith('(--build-ops no)')
    assert note(cuda=False)[1].endswith(report.NEEDS_GPU)
    assert 'no nvcc' in note(nvcc=None)[1]
    assert 'give --wheels DIR' in note(archive=None)[1]
    assert note(ops_plan=dict(error='nvcc 12.4 is not CUDA 13'))[1].endswith('not CUDA 13')
    assert ops_build.build_jobs(16) == 14 and ops_build.build_jobs(16, 6) == 6
    assert ops_build.build_jobs(2) == 1
