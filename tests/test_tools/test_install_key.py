"""tools/install_key.py, which tools/install.sh runs: the mmcv wheel key names what is
built (CPU ops, or CUDA ops with their archs); a GPU node never silently gets CPU-only
ops; nvcc must have torch's CUDA major; MAX_JOBS is capped. The facts are passed in,
so no GPU is needed."""
import importlib.util
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

TOOL = Path(__file__).resolve().parents[2] / 'tools' / 'install_key.py'
spec = importlib.util.spec_from_file_location('install_key', TOOL)
key = importlib.util.module_from_spec(spec)
spec.loader.exec_module(key)

TORCH_SMS = ((7, 5), (8, 0), (8, 6), (9, 0), (10, 0), (12, 0))  # cu130's get_arch_list()
CPU_NODE = key.Facts(mmcv_version='2.1.0', torch_version='2.14.1+cu130', torch_cuda='13.0',
                     python=(3, 11), supported=TORCH_SMS, nproc=2, mem_gb=20.0)
H100_NODE = replace(CPU_NODE, gpu_available=True, capabilities=((9, 0),),
                    nvcc='/usr/local/cuda/bin/nvcc', nvcc_version='13.0', nproc=128,
                    mem_gb=1000.0)
NVCC_OUTPUT = """nvcc: NVIDIA (R) Cuda compiler driver
Copyright (c) 2005-2025 NVIDIA Corporation
Cuda compilation tools, release 13.0, V13.0.88
Build cuda_13.0.r13.0/compiler.36424714_0
"""


def test_plan__cpu_key_stays_the_one_cpu_machines_and_ci_have_cached():
    for facts in (CPU_NODE, replace(CPU_NODE, nvcc='/usr/local/bin/nvcc', nvcc_version='13.0')):
        plan = key.plan_build(facts)
        assert plan.key == 'mmcv-2.1.0-torch2.14.1_cu130-cpu-py311'
        assert not plan.cuda_ops and plan.arch_list is None and plan.error is None
    cpu_torch = replace(CPU_NODE, torch_version='2.14.1+cpu', torch_cuda=None)
    assert key.plan_build(cpu_torch).key == 'mmcv-2.1.0-torch2.14.1_cpu-cpu-py311'


def test_plan__mmcv_without_ops_has_one_key_per_version_whatever_the_machine():
    for facts in (CPU_NODE, H100_NODE, replace(H100_NODE, nvcc=None)):
        assert key.plan_build(facts).lite_key == 'mmcv-2.1.0-noops'
    assert key.plan_build(replace(CPU_NODE, mmcv_version='2.2.0')).lite_key == 'mmcv-2.2.0-noops'


def test_plan__gpu_with_nvcc_builds_cuda_ops_keyed_by_cuda_version_and_arch():
    plan = key.plan_build(H100_NODE)
    assert plan.cuda_ops and plan.arch_list == '9.0+PTX'
    assert plan.key == 'mmcv-2.1.0-torch2.14.1_cu130-cu130-arch9.0+PTX-py311'
    assert plan.error is None and plan.warnings == ()


def test_plan__gpu_without_nvcc_is_keyed_cpu_warns_and_builds_only_when_allowed():
    no_nvcc = replace(H100_NODE, nvcc=None, nvcc_version=None)
    plan = key.plan_build(no_nvcc)
    assert not plan.cuda_ops and plan.key.endswith('-cpu-py311')
    assert 'module load cuda' in plan.warnings[0] and 'not run on the GPU' in plan.warnings[0]
    assert key.ALLOW_CPU_OPS in plan.error
    assert key.plan_build(replace(no_nvcc, allow_cpu_ops=True)).error is None


def test_plan__force_cuda_without_gpu_or_arch_list_takes_the_default_arch_list():
    forced = replace(CPU_NODE, force_cuda=True, nvcc='/usr/bin/nvcc', nvcc_version='13.0')
    plan = key.plan_build(forced)
    assert plan.cuda_ops and plan.arch_list == key.DEFAULT_ARCH_LIST and plan.error is None
    for native in ('', 'native'):
        assert key.plan_build(replace(forced, arch_env=native)).arch_list == '8.0;9.0+PTX'
    assert key.plan_build(replace(forced, arch_env='8.6 8.9+PTX')).arch_list == '8.6;8.9+PTX'


def test_plan__force_cuda_needs_nvcc_and_a_cuda_torch():
    assert 'module load cuda' in key.plan_build(replace(CPU_NODE, force_cuda=True)).error
    cpu_torch = replace(CPU_NODE, force_cuda=True, torch_version='2.14.1+cpu', torch_cuda=None)
    assert 'CPU build' in key.plan_build(cpu_torch).error


def test_plan__nvcc_cuda_major_must_equal_torchs():
    error = key.plan_build(replace(H100_NODE, nvcc_version='12.8')).error
    assert 'CUDA 12.8' in error and 'CUDA 13.0' in error
    assert key.plan_build(replace(H100_NODE, nvcc_version='13.1')).error is None


def test_wheel_keys__differ_by_arch_and_ignore_how_the_list_is_spelled():
    a100 = replace(H100_NODE, capabilities=((8, 0),))
    both = replace(H100_NODE, capabilities=((9, 0), (8, 0), (9, 0)))
    keys = {key.plan_build(facts).key for facts in (a100, H100_NODE, both)}
    assert len(keys) == 3
    assert key.plan_build(both).arch_list == '8.0;9.0+PTX'
    spaced = key.plan_build(replace(H100_NODE, arch_env=' 8.0 9.0+PTX '))
    assert spaced.key == key.plan_build(replace(H100_NODE, arch_env='8.0;9.0+PTX')).key


def test_device_arch_list__clamped_to_torchs_newest_arch_with_ptx_on_the_last():
    assert key.device_arch_list(((12, 1), (8, 0)), TORCH_SMS) == '8.0;12.0+PTX'
    assert key.device_arch_list(((9, 0),), ((8, 0), (8, 6))) == '8.6+PTX'
    assert key.device_arch_list(()) == key.DEFAULT_ARCH_LIST


def test_parse_nvcc_version__reads_the_release():
    assert key.parse_nvcc_version(NVCC_OUTPUT) == '13.0'
    assert key.parse_nvcc_version('command not found') is None


def test_build_jobs__capped_at_16_and_by_memory_per_job():
    assert key.build_jobs(128, 1000.0, cuda_ops=True) == 16
    assert key.build_jobs(128, 20.0, cuda_ops=True) == 6    # 3 GB per nvcc job
    assert key.build_jobs(128, 20.0, cuda_ops=False) == 13  # 1.5 GB per g++ job
    assert key.build_jobs(2, 20.0, cuda_ops=False) == 2
    assert key.build_jobs(64, 1.0, cuda_ops=True) == 1
    assert key.build_jobs(2, 20.0, cuda_ops=True, requested='40') == 40


def test_ops_problem__cpu_only_or_failing_cuda_ops_on_a_gpu_node_are_never_ok():
    assert key.ops_problem(True, 'not available', None) == key.CPU_OPS_ON_GPU
    assert 'cuda:0 not found' in key.CPU_OPS_ON_GPU
    assert 'no kernel image' in key.ops_problem(True, '13.0', 'RuntimeError: no kernel image')
    assert key.ops_problem(True, '13.0', None) is None
    assert key.ops_problem(False, 'not available', None) is None
    assert key.ops_problem(False, 'not available', None, force_cuda=True) == key.CPU_OPS_FORCED
    assert key.ops_problem(False, '13.0', None, force_cuda=True) is None


def test_nms_probe__no_iou_near_the_threshold_and_some_boxes_suppressed():
    from torchvision.ops import box_iou
    boxes, scores = key.nms_probe()
    iou = box_iou(boxes, boxes)[~torch.eye(len(boxes), dtype=torch.bool)]
    assert (iou - key.NMS_IOU).abs().min() > 1e-3
    mmcv_ops = pytest.importorskip('mmcv.ops')
    assert 0 < len(mmcv_ops.nms(boxes, scores, key.NMS_IOU)[1]) < len(boxes)


def test_installed_mmcv__cpu_build_passes_here_and_fails_when_a_gpu_is_visible(monkeypatch):
    pytest.importorskip('mmcv.ops')
    if torch.cuda.is_available():
        pytest.skip('checks the CPU-only mmcv of a CPU machine')
    assert key.installed_mmcv_problem('2.1.0') is None
    assert 'is wanted' in key.installed_mmcv_problem('9.9.9')
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    import mmcv.ops
    if mmcv.ops.get_compiling_cuda_version() == 'not available':
        assert key.installed_mmcv_problem('2.1.0') == key.CPU_OPS_ON_GPU
    monkeypatch.setattr(mmcv.ops, 'get_compiling_cuda_version', lambda: '13.0')
    assert 'fail on this GPU' in key.installed_mmcv_problem('2.1.0')  # nms on CUDA raises


def test_check_cli__cpu_ops_on_a_gpu_node_fail_unless_allowed(monkeypatch, capsys):
    pytest.importorskip('mmcv.ops')
    monkeypatch.setattr(key, 'installed_mmcv_problem', lambda *args: key.CPU_OPS_ON_GPU)
    monkeypatch.delenv(key.ALLOW_CPU_OPS, raising=False)
    assert key.main(['check', '--mmcv', '2.1.0']) == 1
    assert 'cuda:0 not found' in capsys.readouterr().err
    monkeypatch.setenv(key.ALLOW_CPU_OPS, '1')
    assert key.main(['check', '--mmcv', '2.1.0', '--quiet']) == 0
    assert 'WARNING' in capsys.readouterr().err
    assert key.main(['check', '--mmcv', '2.1.0', '--import', 'no_such_module_x']) == 1
    assert 'no_such_module_x does not import' in capsys.readouterr().err


def test_check__pretraining_accepts_mmcv_without_ops_the_others_do_not(monkeypatch, capsys):
    pytest.importorskip('mmcv')
    monkeypatch.setitem(sys.modules, 'mmcv.ops', None)  # `from mmcv.ops import` fails
    assert 'has no compiled ops' in key.installed_mmcv_problem('2.1.0')
    assert key.installed_mmcv_problem('2.1.0', False, False) is None
    assert 'is wanted' in key.installed_mmcv_problem('9.9.9', False, False)
    assert key.main(['check', '--mmcv', '2.1.0', '--ops', 'optional']) == 0
    assert key.main(['check', '--mmcv', '2.1.0']) == 1
    assert 'has no compiled ops' in capsys.readouterr().err


def test_shell_assignments__survive_bash_eval_with_quotes_and_backticks():
    plan = replace(key.plan_build(H100_NODE), error="can't `run` $(nvcc) \"here\"; ok")
    done = subprocess.run(['bash', '-c', 'eval "$1"; printf "%s|" "$KEY" "$CUDA_OPS" '
                           '"$ARCH_LIST" "$BUILD_JOBS" "$BUILD_ERROR" "$LITE_KEY"', '_',
                           key.shell_assignments(plan)],
                          capture_output=True, text=True, check=True)
    assert done.stdout.split('|')[:6] == [plan.key, '1', '9.0+PTX', '16', plan.error,
                                          'mmcv-2.1.0-noops']
