"""Training-step throughput and peak memory of pretraining configs on real photographs.

For each config: build the config's model (its real architecture) and the optimizer
wrapper of its ``optim_wrapper``, then time ``model.train_step`` (data preprocessor ->
loss -> backward -> optimizer step) on a batch of scikit-image's photographs cut to
the config's input size and packed by the config's collate function, or, with
``--pipeline``, on batches the config's own train pipeline made from them (see
:mod:`mmmim.utils.benchmark_data`). Every config runs in a fresh subprocess, so a CPU
run's peak RSS is that config's own.

    python -m mmmim.utils.benchmark CONFIG [CONFIG ...] --batch-size N --iters K

See docs/benchmark.md.
"""
import argparse
import copy
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.config import Config
from mmengine.optim import AmpOptimWrapper, OptimWrapper, build_optim_wrapper
from mmengine.registry import OPTIM_WRAPPERS
from torch import nn

from .benchmark_data import (
    MAX_PIPELINE_BATCHES,
    PHOTOS,
    batch_image_size,
    pack_batch,
    photo,
    photo_batch,
    pipeline_batches,
)
from .config import (
    build_model_from_cfg,
    config_scope,
    input_size,
    load_config,
    parse_cfg_options,
)

__all__ = ['benchmark_config', 'run_isolated', 'photo_batch', 'pack_batch',
           'pipeline_batches', 'build_benchmark_optim_wrapper', 'add_ratios',
           'format_table', 'main', 'PHOTOS', 'photo']

AMP_ONLY_KEYS = ('loss_scale', 'dtype', 'use_fsdp')
FIGURES = ('images_per_s', 'sec_per_iter', 'peak_mem_mb', 'params', 'params_trainable',
           'flops_per_step', 'achieved_flops_per_s', 'matmul_ceiling_flops_per_s',
           'flop_fraction')
CEILING_SIZE = 2048  # side of the square matrices timed for the matmul ceiling


class StageError(RuntimeError):
    """A benchmark stage failed; the message names the stage and the cause."""


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Re-raise any failure inside as a :class:`StageError` prefixed by ``name``."""
    try:
        yield
    except Exception as error:
        raise StageError(f'{name}: {type(error).__name__}: {error}') from error


# ------------------------------------------------------------------- optimizer wrapper

def amp_dtype(device: str) -> torch.dtype:
    """AMP compute dtype: bf16 on CPU; on CUDA bf16 where supported, else fp16."""
    if device.startswith('cuda') and not torch.cuda.is_bf16_supported():
        return torch.float16
    return torch.bfloat16


def registered_wrappers() -> List[type]:
    """Optimizer wrapper classes of the current scope's registry and its parents."""
    classes = []
    with OPTIM_WRAPPERS.switch_scope_and_registry(None) as registry:
        while registry is not None:
            classes += [c for c in registry.module_dict.values() if isinstance(c, type)]
            registry = registry.parent
    return classes


def optim_wrapper_class(type_) -> type:
    """The class of an ``optim_wrapper`` ``type`` in the current default scope."""
    if not isinstance(type_, str):
        return type_
    with OPTIM_WRAPPERS.switch_scope_and_registry(None) as registry:
        cls = registry.get(type_)
    if cls is None:
        raise KeyError(f'{type_} is not in the {registry.scope}::optim wrapper registry')
    return cls


def _is_wrapper(cls: type, amp: bool) -> bool:
    return issubclass(cls, OptimWrapper) and issubclass(cls, AmpOptimWrapper) == amp


def _mixins(cls: type) -> List[type]:
    return [c for c in cls.__mro__ if not issubclass(c, OptimWrapper)]


def precision_counterpart(cls: type, amp: bool, candidates: Sequence[type] = ()) -> type:
    """The optimizer wrapper like ``cls`` at the other precision (``cls`` when it is
    already AMP / non-AMP as asked): the nearest such base of ``cls`` more specific
    than mmengine's two (``class GuardedAmp(AmpOptimWrapper, Guarded)`` -> ``Guarded``),
    else the simplest candidate with the same mixins (``GuardedAmpOptimWrapper`` ->
    ``GuardedOptimWrapper``), else ``AmpOptimWrapper`` / ``OptimWrapper``."""
    if not issubclass(cls, OptimWrapper):
        raise TypeError(f'{cls.__name__} is not an mmengine OptimWrapper')
    if _is_wrapper(cls, amp):
        return cls
    nearest = next((c for c in cls.__mro__ if _is_wrapper(c, amp)), OptimWrapper)
    if nearest not in (OptimWrapper, AmpOptimWrapper):
        return nearest
    matches = [c for c in (*candidates, OptimWrapper, AmpOptimWrapper)
               if _is_wrapper(c, amp) and _mixins(c) == _mixins(cls)]
    return min(matches, key=lambda c: len(c.__mro__),
               default=AmpOptimWrapper if amp else OptimWrapper)


def autocast_forward(wrapper: OptimWrapper, device_type: str, dtype: torch.dtype) -> None:
    """Run ``wrapper.optim_context`` (the preprocess + forward part of ``train_step``)
    under autocast, as ``AmpOptimWrapper.optim_context`` does."""
    plain_context = wrapper.optim_context

    @contextmanager
    def optim_context(model: nn.Module) -> Iterator[None]:
        with plain_context(model), torch.autocast(device_type, dtype=dtype):
            yield

    wrapper.optim_context = optim_context


def build_benchmark_optim_wrapper(model: nn.Module, cfg: Config, dtype: Optional[torch.dtype],
                                  device: str) -> OptimWrapper:
    """The config's ``optim_wrapper`` at the benchmark's precision, whatever the config's.

    fp32 (``dtype=None``): an AMP wrapper is replaced by its non-AMP counterpart
    (:func:`precision_counterpart`). AMP on CUDA: the AMP counterpart of the config's
    wrapper, with ``dtype`` set. AMP on CPU: bf16 needs no loss scaling (and mmengine's
    AMP wrapper refuses the CPU), so every config gets its non-AMP wrapper with the
    forward under bf16 autocast, which is what an AMP wrapper does in bf16.
    """
    spec = copy.deepcopy(cfg.optim_wrapper)
    spec = spec.to_dict() if hasattr(spec, 'to_dict') else dict(spec)
    cls = optim_wrapper_class(spec.get('type', 'OptimWrapper'))
    amp_wrapper = dtype is not None and device != 'cpu'
    spec['type'] = precision_counterpart(cls, amp_wrapper, registered_wrappers())
    if amp_wrapper:
        spec.setdefault('loss_scale', 'dynamic')
        spec['dtype'] = str(dtype).replace('torch.', '')
    else:
        for key in AMP_ONLY_KEYS:
            spec.pop(key, None)
    wrapper = build_optim_wrapper(model, spec)
    if dtype is not None and not amp_wrapper:
        autocast_forward(wrapper, device, dtype)
    return wrapper


# --------------------------------------------------------------------------- measure

def _sync(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def timed_train_steps(model: nn.Module, wrapper: OptimWrapper,
                      batches: Union[dict, Sequence[dict]], warmup: int, iters: int,
                      device: str) -> Tuple[float, float]:
    """Seconds spent in ``iters`` train steps after ``warmup`` untimed ones, and the
    last loss; step ``i`` trains on ``batches[i % len(batches)]`` (one dict: every
    step). The loss is read every step, as the Runner's logging does."""
    batches = [batches] if isinstance(batches, dict) else list(batches)

    def step(i: int) -> float:
        return float(model.train_step(dict(batches[i % len(batches)]), wrapper)['loss'])

    loss = float('nan')
    for i in range(warmup):
        loss = step(i)
    _sync(device)
    start = time.perf_counter()
    for i in range(warmup, warmup + iters):
        loss = step(i)
    _sync(device)
    return time.perf_counter() - start, loss


def count_step_flops(model: nn.Module, wrapper: OptimWrapper, batch: dict) -> int:
    """FLOPs of one training step (forward + backward; the optimizer's element-wise
    update is not counted), by ``torch.utils.flop_counter.FlopCounterMode``, which
    counts matrix multiplications, convolutions and attention. The step is a real one
    (it updates the parameters), run before the timed ones."""
    from torch.utils.flop_counter import FlopCounterMode
    counter = FlopCounterMode(display=False)
    with counter:
        model.train_step(dict(batch), wrapper)
    return int(counter.get_total_flops())


def matmul_ceiling(device: str, dtype: Optional[torch.dtype], size: int = CEILING_SIZE,
                   repeats: int = 5) -> float:
    """Best FLOP/s of a ``size``-cubed matrix multiplication at the step's precision
    (``dtype`` None: fp32), timed in this process with the same threads."""
    a = torch.randn(size, size, device=device, dtype=dtype or torch.float32)
    b = torch.randn(size, size, device=device, dtype=dtype or torch.float32)
    best = float('inf')
    for _ in range(repeats + 1):  # the first run is a warm-up
        _sync(device)
        start = time.perf_counter()
        torch.mm(a, b)
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


def flop_figures(flops: Optional[int], sec_per_iter: float, ceiling: Optional[float]) -> dict:
    """FLOPs per step, achieved FLOP/s and the fraction of the matmul ceiling."""
    achieved = flops / sec_per_iter if flops else None
    return dict(flops_per_step=flops, achieved_flops_per_s=achieved,
                matmul_ceiling_flops_per_s=ceiling,
                flop_fraction=achieved / ceiling if achieved and ceiling else None)


def peak_memory_mb(device: str) -> Tuple[float, str]:
    """CUDA: max allocated by tensors; CPU: peak resident set size of this process."""
    if device.startswith('cuda'):
        return torch.cuda.max_memory_allocated() / 2**20, 'cuda_max_allocated'
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, B on macOS
    return rss / (2**20 if sys.platform == 'darwin' else 2**10), 'process_peak_rss'


def benchmark_config(config: str, batch_size: int, iters: int, warmup: int = 1,
                     amp: bool = False, image_size: Optional[int] = None,
                     cfg_options: Optional[Sequence[str]] = None, device: str = 'cpu',
                     seed: int = 0, pipeline: bool = False, flops: bool = True) -> dict:
    """Benchmark one config in this process (run it in a fresh process for a peak RSS
    of its own). ``pipeline``: train on batches of the config's own train pipeline
    (its crop sets the input size; ``image_size`` must be None). ``flops``: count
    the FLOPs of one extra (untimed) step and time the matmul ceiling. Raises
    :class:`StageError` naming the stage that failed."""
    if pipeline and image_size:
        raise ValueError('image_size does not apply with pipeline: the pipeline sets '
                         'the input size (change its crop with cfg_options)')
    with stage('load config'):
        cfg = load_config(config, parse_cfg_options(cfg_options))
    dtype = amp_dtype(device) if amp else None
    with config_scope(cfg):
        torch.manual_seed(seed)
        imports_mb = None if device.startswith('cuda') else peak_memory_mb(device)[0]
        with stage('build model'):
            model = build_model_from_cfg(cfg).to(device).train()
        with stage('build optimizer wrapper'):
            wrapper = build_benchmark_optim_wrapper(model, cfg, dtype, device)
            wrapper.initialize_count_status(model, 0, warmup + iters + int(flops))
        with stage('prepare batch'):
            if pipeline:
                batches = pipeline_batches(cfg, batch_size,
                                           min(warmup + iters, MAX_PIPELINE_BATCHES), seed)
                hw = batch_image_size(batches[0])
            else:
                hw = input_size(cfg, image_size)
                batches = [pack_batch(cfg, photo_batch(batch_size, hw))]
        if device.startswith('cuda'):
            torch.cuda.reset_peak_memory_stats()
        step_flops = ceiling = None
        if flops:
            with stage('count FLOPs'):
                step_flops = count_step_flops(model, wrapper, batches[0])
        with stage('train step'):
            seconds, loss = timed_train_steps(model, wrapper, batches, warmup, iters,
                                              device)
        if flops:
            with stage('matmul ceiling'):
                ceiling = matmul_ceiling(device, dtype)
    peak_mb, peak_kind = peak_memory_mb(device)
    return dict(
        config=config, error=None, model=type(model).__name__,
        data_preprocessor=type(model.data_preprocessor).__name__,
        optim_wrapper=type(wrapper).__name__,
        images_per_s=batch_size * iters / seconds, sec_per_iter=seconds / iters,
        peak_mem_mb=peak_mb, peak_mem_kind=peak_kind, peak_mem_before_model_mb=imports_mb,
        params=sum(p.numel() for p in model.parameters()),
        params_trainable=sum(p.numel() for p in model.parameters() if p.requires_grad),
        **flop_figures(step_flops, seconds / iters, ceiling),
        loss=loss, batch_size=batch_size, iters=iters, warmup=warmup, image_size=list(hw),
        data='pipeline' if pipeline else 'photos', distinct_batches=len(batches),
        device=device, dtype=str(dtype or torch.float32).replace('torch.', ''),
        num_threads=torch.get_num_threads(), torch_version=torch.__version__)


# --------------------------------------------------------------------------- isolate

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
    if args.image_size:
        argv += ['--image-size', str(args.image_size)]
    if args.cfg_options:
        argv += ['--cfg-options', *args.cfg_options]
    return argv


def run_isolated(config: str, args: argparse.Namespace) -> dict:
    """Benchmark ``config`` in a fresh ``python -m mmmim.utils.benchmark`` process."""
    package_root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (package_root, os.environ.get('PYTHONPATH')) if p))
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, 'result.json')
        command = [sys.executable, '-m', 'mmmim.utils.benchmark', config,
                   *worker_options(args), '--worker-out', out]
        proc = subprocess.run(command, capture_output=True, text=True, env=env)
        result = json.loads(Path(out).read_text()) if os.path.exists(out) else None
    if result is None:
        tail = ' | '.join(proc.stderr.strip().splitlines()[-3:])
        result = failure(config, f'worker exited with code {proc.returncode}: {tail}')
    if result.get('error'):
        sys.stderr.write(proc.stderr[-4000:])
    return result


def worker_main(args: argparse.Namespace) -> int:
    """Benchmark the single config of ``args`` and write its record to ``--worker-out``."""
    (config,) = args.configs
    try:
        result = benchmark_config(config, args.batch_size, args.iters, args.warmup,
                                  args.amp, args.image_size, args.cfg_options,
                                  args.device, args.seed, args.pipeline,
                                  flops=not args.no_flops)
    except Exception as error:  # reported as this config's record, never raised
        traceback.print_exc()
        cause = str(error) if isinstance(error, StageError) else \
            f'{type(error).__name__}: {error}'
        result = failure(config, cause)
    Path(args.worker_out).write_text(json.dumps(result))
    return 0


# ---------------------------------------------------------------------------- report

def add_ratios(results: List[dict]) -> None:
    """images/s and peak memory of each config relative to the first one that ran."""
    reference = next((r for r in results if not r.get('error')), None)
    for result in results:
        ok = reference is not None and not result.get('error')
        result['images_per_s_ratio'] = (
            result['images_per_s'] / reference['images_per_s'] if ok else None)
        result['peak_mem_ratio'] = (
            result['peak_mem_mb'] / reference['peak_mem_mb'] if ok else None)


def _row(r: dict) -> Tuple[str, ...]:
    if r.get('error'):
        return (r['config'], 'FAILED', '', '', '', '', '', '', '')
    return (r['config'], 'x'.join(map(str, r['image_size'])), f"{r['images_per_s']:.2f}",
            f"{r['sec_per_iter']:.3f}", f"{r['peak_mem_mb']:.0f}",
            f"{r['params'] / 1e6:.2f} ({r['params_trainable'] / 1e6:.2f})",
            f"{r['images_per_s_ratio']:.2f}", f"{r['peak_mem_ratio']:.2f}",
            _flop_cell(r))


def _flop_cell(r: dict) -> str:
    """'GFLOP/step, fraction of the matmul ceiling' or '-' when not counted."""
    if not r.get('flops_per_step'):
        return '-'
    return f"{r['flops_per_step'] / 1e9:.0f} ({r['flop_fraction']:.2f})"


def format_table(results: List[dict]) -> str:
    """A plain-text table, one row per config, then the settings and the failures."""
    header = ('config', 'input', 'images/s', 's/iter', 'peak mem MB',
              'params M (trainable)', 'images/s ratio', 'mem ratio',
              'GFLOP/step (of ceiling)')
    rows = [header] + [_row(r) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ['  '.join(cell.ljust(w) if i == 0 else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(row, widths))).rstrip()
             for row in rows]
    ran = [r for r in results if not r.get('error')]
    if ran:
        r = ran[0]
        memory = ('CUDA max allocated' if r['peak_mem_kind'] == 'cuda_max_allocated'
                  else 'peak RSS of a fresh process per config')
        data = (f"the configs' train pipelines ({r['distinct_batches']} batches cycled)"
                if r.get('data') == 'pipeline' else 'photographs, one batch')
        lines.append(f"batch {r['batch_size']}, {r['iters']} timed iterations after "
                     f"{r['warmup']} warm-up, data: {data}, {r['device']} {r['dtype']}, "
                     f"{r['num_threads']} threads, torch {r['torch_version']}; "
                     + (f"matmul ceiling {r['matmul_ceiling_flops_per_s'] / 1e9:.0f} "
                        f"GFLOP/s ({CEILING_SIZE}^3, same process and precision); "
                        if r.get('matmul_ceiling_flops_per_s') else '') +
                     f"memory: {memory}; ratios vs {r['config']}")
    lines += [f"FAILED {r['config']}: {r['error']}" for r in results if r.get('error')]
    return '\n'.join(lines)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('configs', nargs='+', help="config files or 'mmpretrain::path.py'")
    parser.add_argument('--batch-size', type=int, required=True)
    parser.add_argument('--iters', type=int, required=True, help='timed iterations')
    parser.add_argument('--warmup', type=int, default=1, help='untimed iterations first')
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision: bf16 on CPU, bf16 (else fp16) on CUDA')
    parser.add_argument('--image-size', type=int, default=None,
                        help='square input size; default: the train pipeline crop, '
                        'else the model img_size')
    parser.add_argument('--pipeline', action='store_true',
                        help="batches made by each config's own train pipeline from the "
                        'demo photographs (before timing), e.g. for algorithms reading a '
                        'mask the pipeline stores; its crop sets the input size')
    parser.add_argument('--no-flops', action='store_true',
                        help='skip the FLOP count (one extra untimed step) and the '
                        'matmul ceiling')
    parser.add_argument('--device', choices=('cpu', 'cuda'), default=None,
                        help='default: cuda when available')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--json', default=None, help='write the records to this file')
    parser.add_argument('--cfg-options', nargs='+', default=None,
                        help='key=value overrides applied to every config')
    parser.add_argument('--worker-out', default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.iters < 1 or args.batch_size < 1 or args.warmup < 0:
        parser.error('--iters and --batch-size must be >= 1, --warmup >= 0')
    if args.pipeline and args.image_size:
        parser.error('--image-size does not apply with --pipeline: the pipeline sets the '
                     'input size (change its crop with --cfg-options)')
    args.device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    """CLI: one fresh process per config; exit status 1 when any config failed."""
    args = parse_args(argv)
    if args.worker_out:
        return worker_main(args)
    results = []
    for i, config in enumerate(args.configs, 1):
        print(f'[{i}/{len(args.configs)}] {config}', file=sys.stderr, flush=True)
        results.append(run_isolated(config, args))
    add_ratios(results)
    print(format_table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return int(any(r.get('error') for r in results))


if __name__ == '__main__':
    sys.exit(main())
