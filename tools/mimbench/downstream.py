"""Seconds per training iteration and peak memory of a downstream config at full size.

The config's real model (mmdet detector, mmseg segmentor) and optimizer wrapper
(fp32), trained with ``model.train_step`` on batches that the config's own train
dataloader (dataset class, pipeline, sampler, collate) makes from the tiny
scikit-image datasets of :mod:`mimbench.tiny_data`, written to a
temporary folder: the pipeline resizes / crops those photographs to the config's
full input size (e.g. 1333 x 800 for COCO Mask R-CNN, 512 x 512 crops for ADE20K).
The backbone keeps its random initialization (timing does not need the weights).
The measurement runs in a fresh process, so a CPU run's peak RSS is its own.

    python tools/analysis_tools/benchmark_downstream.py CONFIG [--batch N] [--iters N]
        [--warmup N] [--cfg-options k=v ...] [--json OUT]
"""
import argparse
import copy
import json
import tempfile
import traceback
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.config import Config

from mmmim.config_loading import (
    build_model_from_cfg,
    config_scope,
    load_config,
    parse_cfg_options,
)

from . import (
    build_benchmark_optim_wrapper,
    peak_memory_mb,
    stage,
    timed_train_steps,
)
from .data import batch_image_size
from .isolate import run_worker


def _coco_dataset(root: Path) -> dict:
    from .tiny_data.coco import TINY_COCO_METAINFO
    return dict(data_root=f'{root}/', metainfo=TINY_COCO_METAINFO)


def _ade_dataset(root: Path) -> dict:
    # the config's ADE20KDataset (150 classes, reduce_zero_label) reads the tiny ADE
    # layout as it is: its few labels are valid ADE label values
    return dict(data_root=f'{root}/')


#: dataset type of a config -> (tiny dataset name in TINY_DATASETS, dataset overrides
#: pointing the config's dataset at it).
TINY_DATA_FOR: Dict[str, Tuple[str, Callable[[Path], dict]]] = {
    'CocoDataset': ('coco', _coco_dataset),
    'ADE20KDataset': ('ade', _ade_dataset),
}


def innermost_dataset(dataset: dict) -> dict:
    """The dataset config inside wrappers (``RepeatDataset``, ``ClassBalanced...``)."""
    while 'pipeline' not in dataset and isinstance(dataset.get('dataset'), dict):
        dataset = dataset['dataset']
    return dataset


def tiny_data_batches(cfg: Config, batch_size: int, num_batches: int, folder: Path
                      ) -> List[dict]:
    """``num_batches`` batches of the config's train dataloader on the matching tiny
    dataset, written under ``folder``. Build inside the config's scope."""
    from mmengine.runner import Runner

    from .tiny_data import TINY_DATASETS
    loader = copy.deepcopy(cfg.train_dataloader)
    loader = loader.to_dict() if hasattr(loader, 'to_dict') else dict(loader)
    dataset = innermost_dataset(loader['dataset'])
    kind = str(dataset.get('type', '')).split('.')[-1]
    if kind not in TINY_DATA_FOR:
        raise ValueError(f'no tiny dataset for train_dataloader.dataset type {kind!r}; '
                         f'known: {sorted(TINY_DATA_FOR)}')
    name, overrides = TINY_DATA_FOR[kind]
    TINY_DATASETS[name](folder / name)
    dataset.update(overrides(folder / name))
    loader.update(batch_size=batch_size, num_workers=0, persistent_workers=False)
    batches = []
    while len(batches) < num_batches:
        for batch in Runner.build_dataloader(loader, seed=0):
            batches.append(batch)
            if len(batches) == num_batches:
                break
    return batches


def benchmark_downstream(config: str, batch_size: int, iters: int, warmup: int = 1,
                         cfg_options: Optional[Sequence[str]] = None, seed: int = 0) -> dict:
    """Measure one config in this process (see the module docstring)."""
    with stage('load config'):
        cfg = load_config(config, parse_cfg_options(cfg_options))
        cfg.model.init_cfg = None  # no pretrained checkpoint needed for timing
    with config_scope(cfg), tempfile.TemporaryDirectory(prefix='mmmim_bench_') as tmp:
        torch.manual_seed(seed)
        before_mb = peak_memory_mb('cpu')[0]
        with stage('build model'):
            model = build_model_from_cfg(cfg).train()
        with stage('build optimizer wrapper'):
            wrapper = build_benchmark_optim_wrapper(model, cfg, None, 'cpu')
            wrapper.initialize_count_status(model, 0, warmup + iters)
        with stage('prepare batches'):
            batches = tiny_data_batches(cfg, batch_size, warmup + iters, Path(tmp))
        with stage('train step'):
            seconds, loss = timed_train_steps(model, wrapper, batches, warmup, iters, 'cpu')
    peak_mb, kind = peak_memory_mb('cpu')
    return dict(config=config, error=None, model=type(model).__name__,
                backbone=type(getattr(model, 'backbone', model)).__name__,
                sec_per_iter=seconds / iters, images_per_s=batch_size * iters / seconds,
                peak_mem_mb=peak_mb, peak_mem_kind=kind, peak_mem_before_model_mb=before_mb,
                first_image_size=list(batch_image_size(batches[warmup])), loss=loss,
                params=sum(p.numel() for p in model.parameters()), batch_size=batch_size,
                iters=iters, warmup=warmup, num_threads=torch.get_num_threads(),
                torch_version=torch.__version__)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='downstream config (mmdet / mmseg)')
    parser.add_argument('--batch', type=int, default=2, help='images per iteration')
    parser.add_argument('--iters', type=int, default=3, help='timed iterations')
    parser.add_argument('--warmup', type=int, default=1, help='untimed iterations first')
    parser.add_argument('--cfg-options', nargs='+', default=None, metavar='KEY=VALUE')
    parser.add_argument('--json', help='also write the record to this file')
    parser.add_argument('--worker-out', help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def run_fresh_process(args: argparse.Namespace) -> dict:
    """The measurement in a fresh process (:func:`mimbench.isolate.run_worker`)."""
    argv = [args.config, '--batch', str(args.batch), '--iters', str(args.iters),
            '--warmup', str(args.warmup)]
    if args.cfg_options:
        argv += ['--cfg-options', *args.cfg_options]
    return run_worker('mimbench.downstream', argv,
                      lambda message: dict(config=args.config, error=message))


def describe(r: dict) -> str:
    """The figures of a record, one per line."""
    if r.get('error'):
        return f"{r['config']}: FAILED: {r['error']}"
    h, w = r['first_image_size']
    return '\n'.join([
        f"{r['config']}",
        f"  model            : {r['model']} ({r['backbone']}), {r['params'] / 1e6:.1f} M params",
        f"  batch            : {r['batch_size']} images, first batch padded to {h}x{w}",
        f"  s/iter           : {r['sec_per_iter']:.2f} (mean of {r['iters']} after "
        f"{r['warmup']} warm-up, {r['num_threads']} threads, fp32 CPU)",
        f"  images/s         : {r['images_per_s']:.3f}",
        f"  peak RSS         : {r['peak_mem_mb']:.0f} MB (before the model: "
        f"{r['peak_mem_before_model_mb']:.0f} MB)",
        f"  last loss        : {r['loss']:.4f}"])


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if args.worker_out:
        try:
            record = benchmark_downstream(args.config, args.batch, args.iters, args.warmup,
                                          args.cfg_options)
        except Exception as error:  # the record says what failed
            traceback.print_exc()
            record = dict(config=args.config, error=f'{type(error).__name__}: {error}')
        Path(args.worker_out).write_text(json.dumps(record))
        return 0
    record = run_fresh_process(args)
    print(describe(record))
    if args.json:
        Path(args.json).write_text(json.dumps(record, indent=1))
    return 1 if record.get('error') else 0

