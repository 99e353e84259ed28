"""Training-step throughput and peak memory of pretraining configs on real photographs.

For each config: build the config's model (its real architecture) and the optimizer
wrapper of its ``optim_wrapper``, then time ``model.train_step`` (data preprocessor ->
loss -> backward -> optimizer step) on a batch of scikit-image's photographs cut to
the config's input size and packed by the config's collate function, or, with
``--pipeline``, on batches the config's own train pipeline made from them. Every config
runs in a fresh subprocess, so a CPU run's peak RSS is that config's own.

    python tools/analysis_tools/benchmark_pretrain.py CONFIG [CONFIG ...] \
        --batch-size N --iters K

This package is the measuring bench: it lives in ``tools/`` (``tools/`` on
``sys.path``, as the scripts of ``tools/analysis_tools`` and the tests put it), is not
installed with mmmim, and builds models through :mod:`mmmim.config_loading`.

One module per job: :mod:`.data` (the batches), :mod:`.precision` (the config's
optimizer wrapper at fp32 or AMP), :mod:`.measure` (timing, FLOPs, memory in this
process; :func:`measure_steps` is the one timing procedure, also of the official
codes), :mod:`.isolate` (a fresh process per config), :mod:`.report` (ratios and the
table), :mod:`.cli`; :mod:`.official` (not imported here:
``tools/analysis_tools/benchmark_official.py``) times the official codes beside ours, with the shims
of :mod:`.official_shims`. See docs/benchmark.md.
"""
from .cli import main, parse_args
from .data import (
    PHOTOS,
    batch_image_size,
    normalized_photo_batch,
    pack_batch,
    photo,
    photo_batch,
    pipeline_batches,
    timed_pipeline_batches,
)
from .isolate import failure, run_isolated, worker_main
from .measure import (
    FIGURES,
    StageError,
    Step,
    benchmark_config,
    count_flops,
    count_step_flops,
    flop_figures,
    matmul_ceiling,
    measure_steps,
    peak_memory_mb,
    stage,
    timed_steps,
    timed_train_steps,
    train_step_fn,
)
from .precision import (
    amp_dtype,
    build_benchmark_optim_wrapper,
    optim_wrapper_class,
    precision_counterpart,
    registered_wrappers,
)
from .report import add_ratios, format_table

__all__ = ['FIGURES', 'PHOTOS', 'Step', 'StageError', 'add_ratios', 'amp_dtype',
           'batch_image_size', 'benchmark_config', 'build_benchmark_optim_wrapper',
           'count_flops', 'count_step_flops', 'failure', 'flop_figures', 'format_table',
           'main', 'matmul_ceiling', 'measure_steps', 'normalized_photo_batch',
           'optim_wrapper_class', 'pack_batch', 'parse_args', 'peak_memory_mb', 'photo',
           'photo_batch', 'pipeline_batches', 'precision_counterpart',
           'registered_wrappers', 'run_isolated', 'stage', 'timed_pipeline_batches', 'timed_steps',
           'timed_train_steps', 'train_step_fn', 'worker_main']
