"""Timing, FLOPs and peak memory of training steps, in this process.

:func:`measure_steps` is the one timing procedure: it takes a :data:`Step` callable,
our configs' (:func:`train_step_fn`, by :func:`benchmark_config`) or an official
code's (:mod:`.official`), so both sides are timed by the same loop."""
import math
import resource
import statistics
import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterator, Optional, Sequence, Tuple, Union

import torch
from mmengine.optim import OptimWrapper
from torch import nn

from mmmim.config_loading import (
    build_model_from_cfg,
    config_scope,
    load_config,
    parse_cfg_options,
)

from .config import input_size
from .data import (
    MAX_PIPELINE_BATCHES,
    batch_image_size,
    pack_batch,
    photo_batch,
    timed_pipeline_batches,
)
from .precision import amp_dtype, build_benchmark_optim_wrapper

FIGURES = ('images_per_s', 'sec_per_iter', 'peak_mem_mb', 'params', 'params_trainable',
           'flops_per_step', 'achieved_flops_per_s', 'matmul_ceiling_flops_per_s',
           'flop_fraction', 'data_time')
CEILING_SIZE = 2048  # side of the square matrices timed for the matmul ceiling (CPU)
CUDA_CEILING_SIZE = 8192  # on a GPU 2048^3 takes microseconds: the timer would dominate


class StageError(RuntimeError):
    """A benchmark stage failed; the message names the stage and the cause."""


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Re-raise any failure inside as a :class:`StageError` prefixed by ``name``."""
    try:
        yield
    except Exception as error:
        raise StageError(f'{name}: {type(error).__name__}: {error}') from error


def _sync(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


#: A training step: ``step(i)`` trains on the i-th step's inputs and returns the loss
#: (read as a float, as the training loops log it). Ours: ``model.train_step``; the
#: official codes': :mod:`.official`. Both are timed by :func:`measure_steps`.
Step = Callable[[int], float]


def train_step_fn(model: nn.Module, wrapper: OptimWrapper,
                  batches: Union[dict, Sequence[dict]],
                  train_step: Optional[Callable] = None) -> Step:
    """mmengine's training step as a :data:`Step`: step ``i`` trains on
    ``batches[i % len(batches)]`` (one dict: every step) with ``train_step``
    (default: ``model.train_step`` as it is at each call)."""
    batches = [batches] if isinstance(batches, dict) else list(batches)

    def step(i: int) -> float:
        run = train_step or model.train_step
        return float(run(dict(batches[i % len(batches)]), wrapper)['loss'])

    return step


def timed_steps(step: Step, warmup: int, iters: int, device: str) -> Tuple[float, float]:
    """Seconds spent in steps ``warmup .. warmup + iters - 1`` after the untimed steps
    ``0 .. warmup - 1``, and the last loss."""
    loss = float('nan')
    for i in range(warmup):
        loss = step(i)
    _sync(device)
    start = time.perf_counter()
    for i in range(warmup, warmup + iters):
        loss = step(i)
    _sync(device)
    return time.perf_counter() - start, loss


def timed_train_steps(model: nn.Module, wrapper: OptimWrapper,
                      batches: Union[dict, Sequence[dict]], warmup: int, iters: int,
                      device: str) -> Tuple[float, float]:
    """:func:`timed_steps` of ``model.train_step`` (see :func:`train_step_fn`)."""
    return timed_steps(train_step_fn(model, wrapper, batches), warmup, iters, device)


def attention_flops(query_shape, key_shape, value_shape) -> int:
    """FLOPs of ``softmax(q k^T) v`` as its two batched products: q ``[B, h, N, d]``,
    k ``[B, h, M, d]``, v ``[B, h, M, d_v]`` -> ``2 B h N M (d + d_v)``."""
    *batch, queries, dim = query_shape
    keys, value_dim = key_shape[-2], value_shape[-1]
    return 2 * math.prod(batch) * queries * keys * (dim + value_dim)


def _cpu_attention_forward_flops(query_shape, key_shape, value_shape, *args, **kwargs) -> int:
    return attention_flops(query_shape, key_shape, value_shape)


def _cpu_attention_backward_flops(grad_shape, query_shape, key_shape, value_shape, *args,
                                  **kwargs) -> int:
    # the gradients of the two products: two products each, of the same sizes
    return 2 * attention_flops(query_shape, key_shape, value_shape)


def _fused_cpu_attention_formulas() -> dict:
    """FlopCounterMode formulas for torch's fused CPU attention kernel, which it does
    not count by itself: the FLOPs of the explicit product (forward: scores and the
    weighted sum; backward: their gradients; the kernel's recomputed scores are not
    model FLOPs), so fused and explicit attention count alike."""
    aten = torch.ops.aten
    names = (('_scaled_dot_product_flash_attention_for_cpu', _cpu_attention_forward_flops),
             ('_scaled_dot_product_flash_attention_for_cpu_backward',
              _cpu_attention_backward_flops))
    return {getattr(aten, name): formula for name, formula in names if hasattr(aten, name)}


def count_flops(step: Step) -> int:
    """FLOPs of one training step, ``step(0)`` (forward + backward; the optimizer's
    element-wise update is not counted), by ``torch.utils.flop_counter.FlopCounterMode``,
    which counts matrix multiplications, convolutions and attention (torch's fused CPU
    attention at the explicit product's FLOPs, :func:`_fused_cpu_attention_formulas`).
    The step is a real one (it updates the parameters), run before the timed ones."""
    from torch.utils.flop_counter import FlopCounterMode
    counter = FlopCounterMode(display=False, custom_mapping=_fused_cpu_attention_formulas())
    with counter:
        step(0)
    return int(counter.get_total_flops())


def count_step_flops(model: nn.Module, wrapper: OptimWrapper, batch: dict) -> int:
    """:func:`count_flops` of one ``model.train_step`` on ``batch``."""
    return count_flops(train_step_fn(model, wrapper, batch))


def ceiling_size(device: str) -> int:
    """Side of the square matrices whose product times the ceiling on ``device``."""
    return CUDA_CEILING_SIZE if device.startswith('cuda') else CEILING_SIZE


def matmul_ceiling(device: str, dtype: Optional[torch.dtype], size: Optional[int] = None,
                   repeats: int = 5) -> float:
    """Best FLOP/s of a ``size``-cubed matrix multiplication at the step's precision
    (``dtype`` None: fp32), timed in this process with the same threads (``size``
    None: :func:`ceiling_size` of the device)."""
    size = size or ceiling_size(device)
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


def measure_steps(step: Step, batch_size: int, warmup: int, iters: int, device: str,
                  dtype: Optional[torch.dtype], flops: bool = True,
                  flop_step: Optional[Step] = None) -> dict:
    """The one timing procedure of every benchmark (ours and the official codes'):
    CUDA peak statistics reset; with ``flops``, one extra untimed step counted by
    :func:`count_flops`; ``warmup`` untimed and ``iters`` timed steps
    (:func:`timed_steps`); with ``flops``, the matmul ceiling at ``dtype``.
    ``flop_step``: count the FLOPs on this step instead (the eager one of a compiled
    ``step``: the counter does not see inside compiled graphs). Returns
    ``images_per_s``, ``sec_per_iter``, ``loss`` and :func:`flop_figures`. Raises
    :class:`StageError` naming the stage that failed."""
    if device.startswith('cuda'):
        torch.cuda.reset_peak_memory_stats()
    step_flops = ceiling = None
    if flops:
        with stage('count FLOPs'):
            step_flops = count_flops(flop_step or step)
    with stage('train step'):
        seconds, loss = timed_steps(step, warmup, iters, device)
    if flops:
        with stage('matmul ceiling'):
            ceiling = matmul_ceiling(device, dtype)
    return dict(images_per_s=batch_size * iters / seconds, sec_per_iter=seconds / iters,
                loss=loss, **flop_figures(step_flops, seconds / iters, ceiling))


def compile_train_step(model: nn.Module, compile_cfg: Union[bool, dict]) -> Callable:
    """What mmengine's Runner does for ``cfg.compile``: ``model.train_step`` replaced
    by ``torch.compile(model.train_step, **kwargs)`` (True: no kwargs). Returns the
    eager ``train_step``."""
    eager = model.train_step
    kwargs = {} if compile_cfg is True else dict(compile_cfg)
    model.train_step = torch.compile(eager, **kwargs)
    return eager


def run_settings(batch_size: int, iters: int, warmup: int, device: str,
                 dtype: Optional[torch.dtype]) -> dict:
    """The settings every benchmark record carries."""
    return dict(batch_size=batch_size, iters=iters, warmup=warmup, device=device,
                dtype=str(dtype or torch.float32).replace('torch.', ''),
                num_threads=torch.get_num_threads(), torch_version=torch.__version__)


def imports_peak_mb(device: str) -> Optional[float]:
    """CPU: the peak RSS so far (call it after the imports, before the model is
    built); CUDA: None."""
    return None if device.startswith('cuda') else peak_memory_mb(device)[0]


def peak_memory_mb(device: str) -> Tuple[float, str]:
    """CUDA: max allocated by tensors; CPU: peak resident set size of this process."""
    if device.startswith('cuda'):
        return torch.cuda.max_memory_allocated() / 2**20, 'cuda_max_allocated'
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, B on macOS
    return rss / (2**20 if sys.platform == 'darwin' else 2**10), 'process_peak_rss'


def benchmark_config(config: str, batch_size: int, iters: int, warmup: int = 1,
                     amp: bool = False, image_size: Optional[int] = None,
                     cfg_options: Optional[Sequence[str]] = None, device: str = 'cpu',
                     seed: int = 0, pipeline: bool = False, flops: bool = True,
                     compile: Union[bool, dict, None] = None) -> dict:
    """Benchmark one config in this process (run it in a fresh process for a peak RSS
    of its own). ``pipeline``: train on batches of the config's own train pipeline
    (its crop sets the input size; ``image_size`` must be None). ``flops``: count
    the FLOPs of one extra (untimed) step and time the matmul ceiling. ``compile``:
    compile ``model.train_step`` as mmengine's Runner does for ``cfg.compile``
    (True or torch.compile's kwargs; None: the config's own ``compile``); the FLOPs
    are counted on the eager step first, and compilation happens in the warm-up
    steps (give at least 2). ``batch_size`` 0: the config's own
    ``train_dataloader.batch_size`` (its per-GPU micro-batch). Raises
    :class:`StageError` naming the stage that failed."""
    if pipeline and image_size:
        raise ValueError('image_size does not apply with pipeline: the pipeline sets '
                         'the input size (change its crop with cfg_options)')
    with stage('load config'):
        cfg = load_config(config, parse_cfg_options(cfg_options))
        batch_size = batch_size or cfg.train_dataloader.batch_size
    dtype = amp_dtype(device) if amp else None
    with config_scope(cfg):
        torch.manual_seed(seed)
        imports_mb = imports_peak_mb(device)
        with stage('build model'):
            model = build_model_from_cfg(cfg).to(device).train()
        with stage('build optimizer wrapper'):
            wrapper = build_benchmark_optim_wrapper(model, cfg, dtype, device)
            wrapper.initialize_count_status(model, 0, warmup + iters + int(flops))
        with stage('prepare batch'):
            fetch_seconds = None
            if pipeline:
                batches, fetch_seconds = timed_pipeline_batches(
                    cfg, batch_size, min(warmup + iters, MAX_PIPELINE_BATCHES), seed)
                hw = batch_image_size(batches[0])
            else:
                hw = input_size(cfg, image_size)
                batches = [pack_batch(cfg, photo_batch(batch_size, hw))]
        compile = cfg.get('compile', False) if compile is None else compile
        eager_step = None
        if compile:
            with stage('compile'):
                eager = compile_train_step(model, compile)
            eager_step = train_step_fn(model, wrapper, batches, eager)
        figures = measure_steps(train_step_fn(model, wrapper, batches), batch_size, warmup,
                                iters, device, dtype, flops, flop_step=eager_step)
    peak_mb, peak_kind = peak_memory_mb(device)
    return dict(
        config=config, error=None, model=type(model).__name__,
        data_preprocessor=type(model.data_preprocessor).__name__,
        optim_wrapper=type(wrapper).__name__, **figures,
        peak_mem_mb=peak_mb, peak_mem_kind=peak_kind, peak_mem_before_model_mb=imports_mb,
        **parameter_counts(model), image_size=list(hw),
        data='pipeline' if pipeline else 'photos', distinct_batches=len(batches),
        **data_time_figures(fetch_seconds, figures['sec_per_iter']), compiled=bool(compile),
        **run_settings(batch_size, iters, warmup, device, dtype))


def data_time_figures(fetch_seconds: Optional[Sequence[float]], sec_per_iter: float) -> dict:
    """``data_time``: median seconds to fetch one batch of the train pipeline in one
    process (read, decode, transforms, collate; None without ``--pipeline``), and
    ``data_time_ratio``: that over the step time, i.e. the loader worker processes a
    GPU needs to keep up (above the run's ``num_workers``: the run is loader-bound)."""
    if not fetch_seconds:
        return dict(data_time=None, data_time_ratio=None, data_time_batches=0)
    data_time = statistics.median(fetch_seconds)
    return dict(data_time=data_time, data_time_ratio=data_time / sec_per_iter,
                data_time_batches=len(fetch_seconds))


def parameter_counts(model: nn.Module) -> dict:
    """All and trainable (``requires_grad``) parameters."""
    return dict(params=sum(p.numel() for p in model.parameters()),
                params_trainable=sum(p.numel() for p in model.parameters()
                                     if p.requires_grad))
