"""What every step of the GPU check shares: the paths, the python that runs the steps
and its environment, the time budget, and one way to run a command in a fresh
process with a time limit."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROBES = os.path.join(ROOT, 'tools', 'gpucheck', 'probes.py')
EXCEPTION_LINE = re.compile(r'^([\w.]+\.)?\w*(Error|Exception|Interrupt)\b:?')


@dataclass
class Proc:
    """A finished command: exit code (None: killed at its time limit), seconds, and the
    end of its combined output."""

    code: Optional[int]
    seconds: float
    tail: str

    @property
    def ok(self) -> bool:
        return self.code == 0

    def error_line(self) -> str:
        """The most telling line of a failure: the last exception line of the output
        (``ValueError: ...``, rank prefix dropped; not torchrun's ChildFailedError),
        else its last line."""
        if self.code is None:
            return f'timed out after {self.seconds:.0f} s'
        lines = [re.sub(r'^\[rank\d+\]:\s*', '', line.strip())
                 for line in self.tail.splitlines() if line.strip()]
        errors = [line for line in lines if EXCEPTION_LINE.match(line)
                  and 'ChildFailedError' not in line]
        return (errors or lines or [f'exit code {self.code}'])[-1][:300]


@dataclass
class Context:
    """Shared state of one check run. ``python``: the interpreter that runs the steps;
    ``paths``: what goes first on their ``PYTHONPATH`` (installed wheels, the mmcv
    without ops); ``budget_s``: seconds for the whole run from ``start``."""

    work_dir: str
    python: str = sys.executable
    budget_s: float = 480.0
    start: float = field(default_factory=time.monotonic)
    paths: List[str] = field(default_factory=list)
    cuda: bool = False
    facts: Dict = field(default_factory=dict)   # what the env step saw
    details: Dict = field(default_factory=dict)  # per step, written to the JSON
    archive: Optional[str] = None  # mmcv's source archive (from --wheels DIR)
    ops_build: object = None       # the background build of mmcv's CUDA ops, if any
    ops_note: str = 'mmcv CUDA ops: no build was started'  # why there are none
    ops_path: Optional[str] = None  # where the built ops went ('' : already installed)

    def left(self) -> float:
        """Seconds left of the budget."""
        return self.budget_s - (time.monotonic() - self.start)

    def env(self, extra_paths: Sequence[str] = (), **variables: str) -> Dict[str, str]:
        """The environment of a step: ``paths`` (then ``extra_paths``) and the repository
        first on ``PYTHONPATH``, unbuffered output, the allocator's expandable segments."""
        pythonpath = [*extra_paths, *self.paths, ROOT, os.environ.get('PYTHONPATH', '')]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in pythonpath if p),
                   PYTHON=self.python, PYTHONUNBUFFERED='1')
        env.setdefault('PYTORCH_CUDA_ALLOC_CONF', 'expandable_segments:True')
        env.update(variables)
        return env

    def path(self, *parts: str) -> str:
        return os.path.join(self.work_dir, *parts)


def session_members(sid: int) -> List[int]:
    """Processes of session ``sid`` (ninja and torchrun put their children in process
    groups of their own, but not in another session)."""
    pids = []
    for entry in os.listdir('/proc'):
        try:
            with open(f'/proc/{entry}/stat') as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except (OSError, IndexError):  # not a process, or it ended meanwhile
            continue
        if int(fields[3]) == sid:  # after the name: state, ppid, pgrp, session
            pids.append(int(entry))
    return pids


def kill_session(proc: subprocess.Popen) -> None:
    """Kill ``proc`` (started with ``start_new_session=True``) and every process of its
    session."""
    for pid in [proc.pid, *session_members(proc.pid)]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def run(command: Sequence[str], timeout: float, env: Optional[Dict[str, str]] = None,
        log: Optional[str] = None, cwd: str = ROOT) -> Proc:
    """Run ``command`` in a new session from ``cwd``; kill the session after ``timeout``
    seconds. The output goes to ``log`` (if given); its end is returned."""
    start = time.monotonic()
    out = open(log, 'w') if log else subprocess.PIPE  # noqa: SIM115
    proc = subprocess.Popen(list(map(str, command)), cwd=cwd, env=env, stdout=out,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=max(timeout, 1))
        code = proc.returncode
    except subprocess.TimeoutExpired:
        kill_session(proc)
        output, _ = proc.communicate()
        code = None
    finally:
        if log:
            out.close()
    if log:
        with open(log, errors='replace') as f:
            output = f.read()
    return Proc(code, time.monotonic() - start, (output or '')[-6000:])


def probe(ctx: Context, name: str, timeout: float, *args: str,
          extra_paths: Sequence[str] = ()) -> tuple:
    """Run probe ``name`` of :mod:`probes` in a fresh process; returns its JSON record
    (None when it wrote none) and the :class:`Proc`."""
    out = ctx.path(f'probe_{name}.json')
    if os.path.exists(out):
        os.remove(out)
    proc = run([ctx.python, PROBES, name, '--out', out, *args], timeout,
               ctx.env(extra_paths), log=ctx.path(f'probe_{name}.log'))
    record = None
    if os.path.exists(out):
        with open(out) as f:
            record = json.load(f)
    return record, proc
