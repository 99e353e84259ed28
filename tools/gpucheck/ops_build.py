"""mmcv's compiled ops with CUDA kernels for this GPU's arch only, built from the source
archive in the background (lowest CPU priority) while the pretraining lines run; the
detection lines use them if the build ends inside the time budget."""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from typing import List, Optional

from .context import Context, kill_session, run
from .wheels import extract_mmcv, pip_install_command

CXX20_MARK = 'C++20 or later'
#: torch headers that say when they need C++20 (mmcv 2.1.0 hard-codes -std=c++17)
CXX20_HEADERS = ('c10/macros/Macros.h', 'c10/macros/Export.h', 'ATen/ATen.h')


@dataclass
class Build:
    """A background build: the process, its log, the wheel folder, its start time."""

    proc: subprocess.Popen
    log: str
    out: str
    start: float

    def seconds(self) -> float:
        return time.monotonic() - self.start


def needs_cxx20(torch_include: str) -> bool:
    """Whether torch's headers refuse to compile below C++20."""
    for header in CXX20_HEADERS:
        path = os.path.join(torch_include, header)
        if os.path.exists(path):
            with open(path, errors='replace') as f:
                if CXX20_MARK in f.read():
                    return True
    return False


def raise_cxx_standard(setup_py: str) -> None:
    """mmcv's setup.py asks for C++17 (g++ and nvcc); torch >= 2.10 needs C++20."""
    with open(setup_py) as f:
        text = f.read()
    with open(setup_py, 'w') as f:
        f.write(text.replace('-std=c++17', '-std=c++20'))


def build_jobs(nproc: int, planned: Optional[int] = None) -> int:
    """Parallel compile jobs: all CPUs but two (left to the GPU steps), at most 16 and at
    most ``planned`` (tools/install_key.py's count by CPUs and memory)."""
    return max(1, min(16, nproc - 2, planned or 16))


def build_environment(ctx: Context, arch: str, jobs: int) -> dict:
    """mmcv with CUDA ops for ``arch`` only (e.g. ``9.0``); the build tools' scripts
    (ninja) first on ``PATH``."""
    tools = os.path.join(ctx.path('build_site'), 'bin')
    return ctx.env(MMCV_WITH_OPS='1', FORCE_CUDA='1', TORCH_CUDA_ARCH_LIST=arch,
                   MAX_JOBS=str(jobs), PATH=os.pathsep.join([tools, os.environ['PATH']]))


def build_command(ctx: Context, source: str, out: str) -> List[str]:
    nice = ['nice', '-n', '19'] if shutil.which('nice') else []
    return [*nice, ctx.python, '-m', 'pip', 'wheel', '--no-build-isolation', '--no-deps',
            '--no-index', '-v', '-w', out, source]


def start(ctx: Context, archive: str, arch: str, torch_include: str) -> Build:
    """Start the build of mmcv's ops for ``arch`` from ``archive`` in the background."""
    source = extract_mmcv(archive, ctx.path('mmcv_build'))
    if needs_cxx20(torch_include):
        raise_cxx_standard(os.path.join(source, 'setup.py'))
    out, log = ctx.path('mmcv_ops_wheel'), ctx.path('mmcv_ops_build.log')
    planned = (ctx.facts.get('ops_plan') or {}).get('max_jobs')
    env = build_environment(ctx, arch, build_jobs(ctx.facts.get('nproc') or 1, planned))
    with open(log, 'w') as f:
        proc = subprocess.Popen(build_command(ctx, source, out), cwd=source, env=env,
                                stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
    return Build(proc, log, out, time.monotonic())


def finish(ctx: Context, build: Build, wait_s: float) -> Optional[str]:
    """Wait up to ``wait_s`` for ``build``; install its wheel into ``mmcv_ops/`` and
    return that folder, or stop the build and return None."""
    try:
        build.proc.wait(timeout=max(wait_s, 0))
    except subprocess.TimeoutExpired:
        kill_session(build.proc)
        build.proc.wait()
        return None
    wheels = sorted(os.listdir(build.out)) if os.path.isdir(build.out) else []
    if build.proc.returncode or not wheels:
        return None
    target = ctx.path('mmcv_ops')
    proc = run(pip_install_command(ctx.python, [os.path.join(build.out, wheels[-1])], target),
               120, log=ctx.path('pip_mmcv_ops.log'))
    return target if proc.ok else None
