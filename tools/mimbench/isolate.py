"""One fresh process per config, so a CPU run's peak RSS is its own."""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Callable, List, Sequence

from .measure import FIGURES, StageError, benchmark_config


def failure(config: str, message: str) -> dict:
    return dict(config=config, error=message, **{key: None for key in FIGURES})


def worker_options(args: argparse.Namespace) -> List[str]:
    """The options of a worker run, from the parent's parsed arguments."""
    argv = ['--batch-size', str(args.batch_size), '--iters', str(args.iters),
            '--warmup', str(args.warmup), '--device', args.device, '--seed', str(args.seed)]
    if args.amp:
        argv.append('--amp')
    if args.pipeline:
        argv.append('--pipeline')
    if args.no_flops:
        argv.append('--no-flops')
    if getattr(args, 'compile', False):
        argv.append('--compile')
    if args.image_size:
        argv += ['--image-size', str(args.image_size)]
    if args.cfg_options:
        argv += ['--cfg-options', *args.cfg_options]
    return argv


#: the script that runs a mimbench module's ``main`` in a fresh process
WORKER = Path(__file__).resolve().with_name('worker.py')
#: the checkout holding this bench, whose ``mmmim`` the workers import
REPO_ROOT = Path(__file__).resolve().parents[2]


def run_worker(module: str, argv: Sequence[str], failed: Callable[[str], dict]) -> dict:
    """``module.main([*argv, '--worker-out', OUT])`` in a fresh process
    (``python tools/mimbench/worker.py module ...``, this checkout first on
    ``PYTHONPATH``) and the record it wrote to OUT; ``failed(message)`` when it wrote
    none. A failed record's worker stderr goes to stderr."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (str(REPO_ROOT), os.environ.get('PYTHONPATH')) if p))
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, 'result.json')
        command = [sys.executable, str(WORKER), module, *argv, '--worker-out', out]
        proc = subprocess.run(command, capture_output=True, text=True, env=env)
        result = json.loads(Path(out).read_text()) if os.path.exists(out) else None
    if result is None:
        tail = ' | '.join(proc.stderr.strip().splitlines()[-3:])
        result = failed(f'worker exited with code {proc.returncode}: {tail}')
    if result.get('error'):
        sys.stderr.write(proc.stderr[-4000:])
    return result


def run_isolated(config: str, args: argparse.Namespace) -> dict:
    """Benchmark ``config`` in a fresh process (:func:`run_worker`)."""
    return run_worker('mimbench.cli', [config, *worker_options(args)],
                      lambda message: failure(config, message))


def worker_main(args: argparse.Namespace) -> int:
    """Benchmark the single config of ``args`` and write its record to ``--worker-out``."""
    (config,) = args.configs
    try:
        result = benchmark_config(config, args.batch_size, args.iters, args.warmup,
                                  args.amp, args.image_size, args.cfg_options,
                                  args.device, args.seed, args.pipeline,
                                  flops=not args.no_flops,
                                  compile=True if args.compile else None)
    except Exception as error:  # reported as this config's record, never raised
        traceback.print_exc()
        cause = str(error) if isinstance(error, StageError) else \
            f'{type(error).__name__}: {error}'
        result = failure(config, cause)
    Path(args.worker_out).write_text(json.dumps(result))
    return 0
