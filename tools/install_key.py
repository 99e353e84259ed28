"""How tools/install.sh builds, caches and checks mmcv's compiled ops.

The pure functions take the facts (torch's CUDA version, the visible GPUs' compute
capabilities, nvcc's version, the environment) as arguments, so the tests need no GPU;
``gather_facts`` reads them from the running interpreter. Other tools may import them:

    from install_key import gather_facts, plan_build   # with tools/ on sys.path
    plan = plan_build(gather_facts('2.1.0'))            # plan.key, plan.arch_list, ...

Command line (tools/install.sh runs both):

    python tools/install_key.py plan --mmcv 2.1.0 [--quiet]
        shell assignments for ``eval``: KEY (the wheel-cache folder name), CUDA_OPS (0/1),
        ARCH_LIST (TORCH_CUDA_ARCH_LIST of a CUDA build), BUILD_JOBS (MAX_JOBS),
        BUILD_ERROR (why a build must not start; a cached wheel may still be used) and
        LITE_KEY (the folder of mmcv without compiled ops). Warnings go to stderr
        (none with ``--quiet``).
    python tools/install_key.py check --mmcv 2.1.0 [--quiet] [--import MODULE ...]
            [--ops required|optional]
        exit 0 when the installed mmcv has the ops this machine needs: with a usable GPU,
        CUDA ops that run ``nms`` on it; with FORCE_CUDA=1, CUDA ops; ``--ops optional``
        (pretraining): mmcv of that version with or without ops. ``--import`` also
        imports the named modules.

Wheel keys: ``mmcv-<mmcv>-torch<torch>-<ops>-py<XY>``, where <ops> is ``cpu`` or
``cu<XYZ>-arch<TORCH_CUDA_ARCH_LIST, ';' as '_'>``, e.g.
``mmcv-2.1.0-torch2.14.1_cu130-cu130-arch8.0_9.0+PTX-py311``; without ops
``mmcv-2.1.0-noops``.
"""
import argparse
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

DEFAULT_ARCH_LIST = '8.0;9.0+PTX'  # A100, H100; PTX lets newer GPUs JIT the kernels
MAX_JOBS_CAP = 16
JOB_MEMORY_GB = {True: 3.0, False: 1.5}  # one nvcc / one g++ job with torch's headers
ALLOW_CPU_OPS = 'MMMIM_ALLOW_CPU_OPS'
PREFIX = '[mmmim install]'
CPU_OPS_ON_GPU = ('mmcv has CPU-only ops on a GPU node: detection fails with '
                  '"... implementation for device cuda:0 not found". Rerun tools/install.sh '
                  'with nvcc (`module load cuda` or CUDA_HOME)')
CPU_OPS_FORCED = 'FORCE_CUDA=1 asks for CUDA ops but the installed mmcv has CPU-only ops'
Capability = Tuple[int, int]


@dataclass(frozen=True)
class Facts:
    """What decides the mmcv build. Versions are strings as their tools print them."""

    mmcv_version: str
    torch_version: str                   # torch.__version__, e.g. '2.14.1+cu130'
    torch_cuda: Optional[str]            # torch.version.cuda, None for a CPU torch
    python: Capability                   # sys.version_info[:2]
    gpu_available: bool = False          # torch.cuda.is_available()
    capabilities: Tuple[Capability, ...] = ()   # of the visible GPUs
    supported: Tuple[Capability, ...] = ()      # sm_XY in torch.cuda.get_arch_list()
    nvcc: Optional[str] = None           # the nvcc torch's cpp_extension would run
    nvcc_version: Optional[str] = None   # its 'release X.Y'
    force_cuda: bool = False             # FORCE_CUDA=1
    arch_env: Optional[str] = None       # TORCH_CUDA_ARCH_LIST
    allow_cpu_ops: bool = False          # MMMIM_ALLOW_CPU_OPS=1
    max_jobs_env: Optional[str] = None   # MAX_JOBS
    nproc: int = 1
    mem_gb: float = 0.0                  # available memory


@dataclass(frozen=True)
class Plan:
    """How to build (or which cached wheel to take)."""

    key: str
    cuda_ops: bool
    arch_list: Optional[str]   # TORCH_CUDA_ARCH_LIST for the build; None for CPU ops
    max_jobs: int
    warnings: Tuple[str, ...]
    error: Optional[str]       # why a build must not start
    lite_key: str              # the cache folder of mmcv without compiled ops


def parse_nvcc_version(text: str) -> Optional[str]:
    """'X.Y' from ``nvcc --version`` output ('... release 13.0, V13.0.88'), else None."""
    found = re.search(r'release (\d+\.\d+)', text)
    return found.group(1) if found else None


def cuda_major(version: str) -> int:
    """13 for '13.0'."""
    return int(version.split('.')[0])


def normalize_arch_list(text: str) -> str:
    """TORCH_CUDA_ARCH_LIST with ';' between entries ('8.0 9.0+PTX' -> '8.0;9.0+PTX')."""
    return ';'.join(part for part in re.split(r'[;\s]+', text.strip()) if part)


def device_arch_list(capabilities: Sequence[Capability],
                     supported: Sequence[Capability] = ()) -> str:
    """The visible GPUs' archs, clamped to torch's newest, PTX on the last, as torch
    itself derives them; DEFAULT_ARCH_LIST when no GPU is visible."""
    if not capabilities:
        return DEFAULT_ARCH_LIST
    newest = max(supported) if supported else None
    archs = sorted({min(tuple(cap), newest) if newest else tuple(cap) for cap in capabilities})
    return ';'.join(f'{major}.{minor}' for major, minor in archs) + '+PTX'


def arch_list_for(facts: Facts) -> str:
    """TORCH_CUDA_ARCH_LIST for a CUDA build: the user's, else from the visible GPUs."""
    if facts.arch_env and facts.arch_env.strip() not in ('', 'native'):
        return normalize_arch_list(facts.arch_env)
    return device_arch_list(facts.capabilities, facts.supported)


def wants_cuda_ops(facts: Facts) -> bool:
    """Build CUDA ops when asked (FORCE_CUDA=1) or when a GPU is usable and nvcc exists."""
    if facts.force_cuda:
        return True
    return facts.gpu_available and facts.torch_cuda is not None and facts.nvcc is not None


def build_warnings(facts: Facts, cuda_ops: bool) -> Tuple[str, ...]:
    """What the user should know about the choice of CPU or CUDA ops."""
    if cuda_ops or facts.torch_cuda is None:
        return ()
    if facts.gpu_available:
        return ('a GPU is visible but no nvcc was found: mmcv gets CPU-only ops, so '
                'detection (RoIAlign, NMS: Mask R-CNN, HTC++, ViTDet) will not run on the '
                f'GPU. Fix: `module load cuda` (CUDA {cuda_major(facts.torch_cuda)}.x, '
                'as torch) or set CUDA_HOME, then rerun; pretraining alone: '
                f'{ALLOW_CPU_OPS}=1',)
    if facts.nvcc is not None:
        return ('nvcc found but no GPU visible: building CPU-only mmcv ops. For GPU nodes '
                'run install.sh on one, or set FORCE_CUDA=1 (and TORCH_CUDA_ARCH_LIST, '
                f'default {DEFAULT_ARCH_LIST})',)
    return ()


def build_error(facts: Facts, cuda_ops: bool) -> Optional[str]:
    """Why the planned build would fail or give a wrong wheel; None when it may start."""
    if facts.force_cuda and facts.torch_cuda is None:
        return f'FORCE_CUDA=1 but torch {facts.torch_version} is a CPU build'
    if cuda_ops and facts.nvcc is None:
        return ('CUDA ops requested (FORCE_CUDA=1) but no nvcc was found: '
                '`module load cuda` or set CUDA_HOME')
    if cuda_ops and facts.nvcc_version is None:
        return f'cannot read the CUDA version of {facts.nvcc} (`nvcc --version`)'
    if cuda_ops and cuda_major(facts.nvcc_version) != cuda_major(facts.torch_cuda):
        return (f'nvcc {facts.nvcc} is CUDA {facts.nvcc_version} but torch '
                f'{facts.torch_version} was built with CUDA {facts.torch_cuda}; the majors '
                f'must match: load CUDA {cuda_major(facts.torch_cuda)}.x (`module load cuda`, '
                'CUDA_HOME) or install the torch build for your CUDA')
    if facts.gpu_available and facts.torch_cuda and not cuda_ops and not facts.allow_cpu_ops:
        return ('refusing to build CPU-only mmcv ops on a GPU node (see the warning above); '
                f'{ALLOW_CPU_OPS}=1 accepts them')
    return None


def wheel_key(mmcv_version: str, torch_version: str, python: Capability, ops: str) -> str:
    """The wheel-cache folder name; ``ops`` is 'cpu' or 'cu<XYZ>-arch<...>'."""
    return (f"mmcv-{mmcv_version}-torch{torch_version.replace('+', '_')}-{ops}"
            f'-py{python[0]}{python[1]}')


def lite_key(mmcv_version: str) -> str:
    """The wheel-cache folder of mmcv without compiled ops (pure Python: one per
    version), which pretraining needs and builds in seconds."""
    return f'mmcv-{mmcv_version}-noops'


def ops_tag(torch_cuda: str, arch_list: str) -> str:
    """'cu130-arch8.0_9.0+PTX' for CUDA 13.0 and '8.0;9.0+PTX'."""
    return f"cu{torch_cuda.replace('.', '')}-arch{arch_list.replace(';', '_')}"


def build_jobs(nproc: int, mem_gb: float, cuda_ops: bool,
               requested: Optional[str] = None) -> int:
    """MAX_JOBS: the user's, else min(nproc, 16, memory / per-job memory), at least 1."""
    if requested:
        return int(requested)
    by_memory = int(mem_gb // JOB_MEMORY_GB[cuda_ops])
    return max(1, min(nproc, MAX_JOBS_CAP, by_memory))


def plan_build(facts: Facts) -> Plan:
    """The key names what is built: CUDA ops and their archs, or 'cpu'."""
    cuda_ops = wants_cuda_ops(facts)
    arch = arch_list_for(facts) if cuda_ops and facts.torch_cuda else None
    ops = ops_tag(facts.torch_cuda, arch) if arch else 'cpu'
    return Plan(key=wheel_key(facts.mmcv_version, facts.torch_version, facts.python, ops),
                cuda_ops=cuda_ops, arch_list=arch,
                max_jobs=build_jobs(facts.nproc, facts.mem_gb, cuda_ops, facts.max_jobs_env),
                warnings=build_warnings(facts, cuda_ops), error=build_error(facts, cuda_ops),
                lite_key=lite_key(facts.mmcv_version))


def ops_problem(gpu_available: bool, compiled_cuda: str, nms_error: Optional[str],
                force_cuda: bool = False) -> Optional[str]:
    """Why an importable mmcv cannot serve this machine; None when it can.

    ``compiled_cuda`` is ``mmcv.ops.get_compiling_cuda_version()`` ('not available' for
    CPU-only ops); ``nms_error`` what ``nms`` on CUDA tensors raised or got wrong (None
    when it was not run); ``force_cuda``: FORCE_CUDA=1 wants CUDA ops without a GPU.
    """
    if not (gpu_available or force_cuda):
        return None
    if compiled_cuda == 'not available':
        return CPU_OPS_ON_GPU if gpu_available else CPU_OPS_FORCED
    if nms_error:
        return (f'mmcv CUDA ops (built with CUDA {compiled_cuda}) fail on this GPU: '
                f'{nms_error}. Rebuild for its arch (tools/install.sh, TORCH_CUDA_ARCH_LIST)')
    return None


NMS_IOU = 0.5


def nms_probe():
    """Fixed boxes [64, 4] (x1 y1 x2 y2) and scores [64] for the CUDA check; no pair's
    IoU is near NMS_IOU, so CPU and CUDA must keep the same boxes."""
    import torch
    gen = torch.Generator().manual_seed(17)  # nearest IoU to 0.5: 0.017 away
    boxes = torch.rand(64, 4, generator=gen) * 50
    boxes[:, 2:] += boxes[:, :2] + 1
    return boxes, torch.rand(64, generator=gen)


def cuda_nms_error() -> Optional[str]:
    """Run mmcv's nms on CUDA tensors against the CPU result; the error text, or None."""
    import torch
    from mmcv.ops import nms
    boxes, scores = nms_probe()
    try:
        on_gpu = nms(boxes.cuda(), scores.cuda(), NMS_IOU)[1].cpu()
    except Exception as error:  # noqa: BLE001 - any failure means no usable CUDA ops
        return f'{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ""}'
    on_cpu = nms(boxes, scores, NMS_IOU)[1]
    return None if torch.equal(on_gpu, on_cpu) else 'CUDA nms keeps other boxes than the CPU'


def installed_mmcv_problem(mmcv_version: str, force_cuda: bool = False,
                           need_ops: bool = True) -> Optional[str]:
    """Why the installed mmcv is not the one this machine needs; None when it is.
    ``need_ops=False`` (pretraining): any build of that version, with or without the
    compiled ops."""
    try:
        import mmcv
    except Exception as error:  # noqa: BLE001 - broken builds raise all kinds
        return f'mmcv does not import: {error}'
    if mmcv.__version__ != mmcv_version:
        return f'mmcv {mmcv.__version__} is installed, {mmcv_version} is wanted'
    if not need_ops:
        return None
    try:
        from mmcv.ops import get_compiling_cuda_version, nms  # noqa: F401 - compiled ops
    except Exception as error:  # noqa: BLE001 - broken builds raise all kinds
        return f'mmcv has no compiled ops that import: {error}'
    import torch
    gpu = torch.cuda.is_available()
    compiled = get_compiling_cuda_version()
    nms_error = cuda_nms_error() if gpu and compiled != 'not available' else None
    return ops_problem(gpu, compiled, nms_error, force_cuda)


def find_nvcc() -> Optional[str]:
    """The nvcc torch's cpp_extension would build with (CUDA_HOME, PATH, /usr/local/cuda)."""
    import logging
    logging.getLogger('torch.utils.cpp_extension').setLevel(logging.ERROR)
    from torch.utils.cpp_extension import CUDA_HOME
    nvcc = os.path.join(CUDA_HOME, 'bin', 'nvcc') if CUDA_HOME else None
    return nvcc if nvcc and os.path.exists(nvcc) else None


def available_memory_gb() -> float:
    """MemAvailable from /proc/meminfo, else the physical memory."""
    try:
        with open('/proc/meminfo') as meminfo:
            for line in meminfo:
                if line.startswith('MemAvailable:'):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30


def gather_facts(mmcv_version: str, env=os.environ) -> Facts:
    """The facts of this interpreter, machine and environment."""
    import torch
    gpu = torch.cuda.is_available()
    sms = [re.fullmatch(r'sm_(\d+)', arch) for arch in torch.cuda.get_arch_list()]
    nvcc = find_nvcc()
    version = None
    if nvcc:
        done = subprocess.run([nvcc, '--version'], capture_output=True, text=True)
        version = parse_nvcc_version(done.stdout)
    return Facts(
        mmcv_version=mmcv_version, torch_version=torch.__version__,
        torch_cuda=torch.version.cuda, python=tuple(sys.version_info[:2]),
        gpu_available=gpu,
        capabilities=tuple(torch.cuda.get_device_capability(i)
                           for i in range(torch.cuda.device_count())) if gpu else (),
        supported=tuple(divmod(int(m.group(1)), 10) for m in sms if m),
        nvcc=nvcc, nvcc_version=version, force_cuda=env.get('FORCE_CUDA', '0') == '1',
        arch_env=env.get('TORCH_CUDA_ARCH_LIST'),
        allow_cpu_ops=env.get(ALLOW_CPU_OPS, '0') == '1',
        max_jobs_env=env.get('MAX_JOBS') or None,
        nproc=len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity')
        else (os.cpu_count() or 1),
        mem_gb=available_memory_gb())


def import_problem(modules: Sequence[str]) -> Optional[str]:
    """Why one of ``modules`` does not import (their own output hidden); None if all do."""
    import contextlib
    import io
    import warnings
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter('ignore')
        for module in modules:
            try:
                __import__(module)
            except Exception as error:  # noqa: BLE001 - any failure: not installed right
                return f'{module} does not import: {error}'
    return None


def shell_assignments(plan: Plan) -> str:
    """The plan as lines of NAME=value for bash's ``eval``."""
    values = dict(KEY=plan.key, CUDA_OPS=int(plan.cuda_ops), ARCH_LIST=plan.arch_list or '',
                  BUILD_JOBS=plan.max_jobs, BUILD_ERROR=plan.error or '',
                  LITE_KEY=plan.lite_key)
    return '\n'.join(f'{name}={shlex.quote(str(value))}' for name, value in values.items())


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('command', choices=('plan', 'check'))
    parser.add_argument('--mmcv', required=True, help='the mmcv version, e.g. 2.1.0')
    parser.add_argument('--quiet', action='store_true', help='check: no message on failure; '
                        'plan: no warnings')
    parser.add_argument('--import', dest='modules', nargs='*', default=(),
                        help='check: modules that must import too')
    parser.add_argument('--ops', choices=('required', 'optional'), default='required',
                        help='check: whether the compiled ops are needed (optional: '
                        'pretraining, which imports none of them)')
    args = parser.parse_args(argv)
    if args.command == 'plan':
        plan = plan_build(gather_facts(args.mmcv))
        for warning in () if args.quiet else plan.warnings:
            print(f'{PREFIX} WARNING: {warning}', file=sys.stderr)
        print(shell_assignments(plan))
        return 0
    force_cuda = os.environ.get('FORCE_CUDA', '0') == '1'
    problem = import_problem(args.modules) or installed_mmcv_problem(
        args.mmcv, force_cuda, args.ops == 'required')
    if problem == CPU_OPS_ON_GPU and os.environ.get(ALLOW_CPU_OPS) == '1':
        print(f'{PREFIX} WARNING ({ALLOW_CPU_OPS}=1): {problem}', file=sys.stderr)
        return 0
    if problem and not args.quiet:
        print(f'{PREFIX} {problem}', file=sys.stderr)
    return 1 if problem else 0


if __name__ == '__main__':
    sys.exit(main())
