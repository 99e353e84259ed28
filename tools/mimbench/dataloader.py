"""Images/s and per-stage cost of train data pipelines, one process at a time.

    python tools/analysis_tools/benchmark_dataloader.py CONFIG [CONFIG ...] [--data DIR] \
        [--workers N] [--iters K] [--rounds R] [--json OUT]

Three pipelines on the same JPEG files, each through its own dataset class:

- ``ours``: the config's ``train_dataloader.dataset`` (its type, its pipeline) on DIR;
- ``mmpretrain``: mmpretrain's ``CustomDataset`` with mmpretrain's own transforms
  (its registry): ``LoadImageFromFile`` + ``RandomResizedCrop`` (the config's crop
  size, scale (0.2, 1.0), ``backend='pillow'``, ``interpolation='bicubic'``) +
  ``RandomFlip(prob=0.5)`` + ``PackInputs``; for a config with PixMIM's conservative
  crop, mmpretrain's conservative crop instead (:func:`mmpretrain_transforms`);
- ``official``: the official MAE's torchvision ``ImageFolder`` + ``RandomResizedCrop``
  (the crop size, scale (0.2, 1.0), ``interpolation=3``) + ``RandomHorizontalFlip`` +
  ``ToTensor`` + ``Normalize`` (skipped, with the reason, without torchvision or with
  a flat folder).

Each run is a fresh process (``--worker-out``) that reads ``warmup`` images untimed,
then ``iters`` images one after another (cycling over the files) with one torch
thread, as in a DataLoader worker: images/s of one worker process (wall clock), images
per CPU-second of the process (``time.process_time``: on a machine shared with other
jobs, the figure they change least), and the milliseconds per image of every
transform (each wrapped by a timer), with the file read (``mmengine.fileio.get``:
ours and mmcv's loaders) and the codec (Pillow's ``ImageFile.load``,
``simplejpeg.decode_jpeg``, ``cv2.imdecode``) timed wherever they are called and taken
out of the transform that called them (:class:`StageClock`); Pillow reads the file
while decoding for torchvision's loader (``read`` None there). With ``--workers N``
(N > 1) the same dataset is also timed through a ``torch.utils.data.DataLoader``
with N workers (aggregate images/s). Rounds alternate (ours, mmpretrain, official,
ours, ...) and the report holds their medians, with ours / mmpretrain and ours /
official (wall clock, and in ``per_cpu_s`` per CPU-second).
"""
import argparse
import copy
import importlib.util
import json
import os
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence

PIPELINES = ('ours', 'mmpretrain', 'official')
#: Per-image stage groups of the report, in order.
CATEGORIES = ('read', 'decode', 'convert', 'crop+resize', 'flip', 'pack', 'other')
DEFAULT_NUM_IMAGES = 120  # generated when --data is not given
LOADER_BATCH = 16  # batch size of the --workers DataLoader run
DESCRIPTION = 'Images/s and per-stage cost of train data pipelines (ours, mmpretrain, official).'
READ_STAGE = 'read'
DECODE_STAGE = 'decode'
LOAD_STAGE = 'load'  # the official loader: read and decode in one call


# ------------------------------------------------------------------------- timers

class StageClock:
    """Exclusive seconds per named stage: a timed call inside another (the file read
    or the codec inside a loading transform) counts for its own stage only, so the
    stages add up to the time of the outermost calls."""

    def __init__(self) -> None:
        self.seconds: Dict[str, float] = {}
        self._open: List[str] = []  # names of the calls under way, outermost first

    def reset(self) -> None:
        self.seconds.clear()

    def timed(self, name: str, fn: Callable) -> Callable:
        """``fn`` with its wall time, less that of timed calls inside it, added to
        stage ``name`` at every call."""
        def call(*args, **kwargs):
            self._open.append(name)
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                self._open.pop()
                self.seconds[name] = self.seconds.get(name, 0.0) + elapsed
                if self._open:  # not the enclosing call's own time
                    parent = self._open[-1]
                    self.seconds[parent] = self.seconds.get(parent, 0.0) - elapsed
        return call


def stage_names(transforms: Sequence) -> List[str]:
    """``'<i>:<class name>'`` of each transform (unique, in pipeline order; mmpretrain's
    wrapper of a torchvision transform by the wrapped class)."""
    return [f'{i}:{type(getattr(t, "t", t)).__name__}' for i, t in enumerate(transforms)]


def time_transforms(transforms: list, clock: StageClock) -> List[str]:
    """Replace every transform of the list in place by a timed call of it; return
    the stage names (:func:`stage_names`)."""
    names = stage_names(transforms)
    for i, name in enumerate(names):
        transforms[i] = clock.timed(name, transforms[i])
    return names


@contextmanager
def patched(owner, attribute: str, clock: StageClock, name: str) -> Iterator[None]:
    """``owner.attribute`` timed as stage ``name`` while inside."""
    original = getattr(owner, attribute)
    setattr(owner, attribute, clock.timed(name, original))
    try:
        yield
    finally:
        setattr(owner, attribute, original)


@contextmanager
def time_io(clock: StageClock) -> Iterator[None]:
    """Time the file read and the codec wherever a pipeline calls them: stage
    :data:`READ_STAGE` for ``mmengine.fileio.get`` (mmcv's and our loaders read
    through it) and :data:`DECODE_STAGE` for Pillow's ``ImageFile.load`` (torchvision's
    decode, ours for files that are not plain JPEGs), ``simplejpeg.decode_jpeg`` (ours
    for plain JPEGs, scaled or not, where installed) and ``cv2.imdecode`` (mmcv's
    default)."""
    import cv2
    from mmengine import fileio
    from PIL import ImageFile

    from mmmim.datasets import fast_decode
    with ExitStack() as stack:
        stack.enter_context(patched(fileio, 'get', clock, READ_STAGE))
        stack.enter_context(patched(ImageFile.ImageFile, 'load', clock, DECODE_STAGE))
        stack.enter_context(patched(cv2, 'imdecode', clock, DECODE_STAGE))
        if fast_decode.simplejpeg is not None:
            stack.enter_context(patched(fast_decode.simplejpeg, 'decode_jpeg', clock,
                                        DECODE_STAGE))
        yield


def categorize(stages: Dict[str, float], load_stage: str) -> Dict[str, Optional[float]]:
    """Per-image exclusive stage times (:class:`StageClock`) grouped into
    :data:`CATEGORIES`: ``read`` (None when nothing was read through
    ``mmengine.fileio``); ``decode`` (the codec); ``convert`` (the rest of the loading
    stage ``load_stage``: header, checks, mode conversions, RGB -> BGR); ``crop+resize``
    (stages named ``*Crop*`` / ``*Resize*``, and the rest of a loading stage that
    crops too); ``flip``; ``pack`` (``Pack*``, ``ToTensor``, ``Normalize``); ``other``."""
    groups = dict.fromkeys(CATEGORIES, 0.0)
    for name, value in stages.items():
        kind = name.split(':', 1)[-1]
        if name in (READ_STAGE, DECODE_STAGE):
            groups[name] += value
        elif name == load_stage:
            groups['crop+resize' if 'Crop' in kind else 'convert'] += value
        elif 'Crop' in kind or 'Resize' in kind:
            groups['crop+resize'] += value
        elif 'Flip' in kind:
            groups['flip'] += value
        elif kind.startswith('Pack') or kind in ('ToTensor', 'Normalize'):
            groups['pack'] += value
        else:
            groups['other'] += value
    if READ_STAGE not in stages:
        groups['read'] = None
    return groups


# ---------------------------------------------------------------------- pipelines

def crop_size(cfg) -> int:
    """Side of the config's train crop (square: mmpretrain's and the official crop)."""
    from .config import input_size
    h, w = input_size(cfg)
    if h != w:
        raise ValueError(f'the train crop is {h}x{w}; the reference pipelines crop squares')
    return h


def build_ours(cfg, data: str):
    """The config's train dataset on ``data``: ``(dataset, transforms list)``."""
    from mmengine.registry import DATASETS
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    while 'dataset' in dataset_cfg:  # wrappers (RepeatDataset, ...)
        dataset_cfg = dataset_cfg['dataset']
    dataset_cfg.update(data_root=data, data_prefix='', ann_file='')
    dataset = DATASETS.build(dataset_cfg)
    return dataset, dataset.pipeline.transforms


def mmpretrain_transforms(size: int, conservative: bool = False) -> list:
    """mmpretrain's train pipeline at crop ``size``, built by its own registry: MAE's
    (``RandomResizedCrop``), or with ``conservative`` PixMIM's conservative crop as
    mmpretrain's configs write it (PIL image, torchvision ``Resize`` of the shorter
    side, ``RandomCrop(padding=4, padding_mode='reflect')``, flip, back to BGR numpy)."""
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import TRANSFORMS
    crop = [dict(type='RandomResizedCrop', scale=size, crop_ratio_range=(0.2, 1.0),
                 backend='pillow', interpolation='bicubic'),
            dict(type='RandomFlip', prob=0.5)]
    if conservative:
        crop = [dict(type='ToPIL', to_rgb=True),
                dict(type='torchvision/Resize', size=size),
                dict(type='torchvision/RandomCrop', size=size, padding=4,
                     padding_mode='reflect'),
                dict(type='torchvision/RandomHorizontalFlip', p=0.5),
                dict(type='ToNumpy', to_bgr=True)]
    specs = [dict(type='LoadImageFromFile'), *crop, dict(type='PackInputs')]
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return [TRANSFORMS.build(spec) for spec in specs]


def conservative_crop(cfg) -> bool:
    """Whether the config's train pipeline crops as PixMIM (``*ConservativeCrop``)."""
    dataset = cfg.train_dataloader.dataset
    while 'dataset' in dataset:  # wrappers (RepeatDataset, ...)
        dataset = dataset['dataset']
    return any('ConservativeCrop' in str(t.get('type', '')) for t in dataset['pipeline'])


def build_mmpretrain(cfg, data: str):
    """mmpretrain's ``CustomDataset`` of ``data`` with :func:`mmpretrain_transforms`."""
    from mmpretrain.datasets import CustomDataset
    dataset = CustomDataset(data_root=data, with_label=False, pipeline=mmpretrain_transforms(
        crop_size(cfg), conservative_crop(cfg)))
    return dataset, dataset.pipeline.transforms


def build_official(cfg, data: str, clock: StageClock):
    """The official MAE's ``ImageFolder`` + training transforms, its loader timed as
    stage :data:`LOAD_STAGE`."""
    from torchvision import datasets, transforms
    from torchvision.datasets.folder import default_loader

    from .data import IMAGENET_MEAN, IMAGENET_STD
    transform = transforms.Compose([
        transforms.RandomResizedCrop(crop_size(cfg), scale=(0.2, 1.0), interpolation=3),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize(mean=IMAGENET_MEAN, std=IMAGENET_STD)])
    dataset = datasets.ImageFolder(data, transform=transform,
                                   loader=clock.timed(LOAD_STAGE, default_loader))
    return dataset, transform.transforms


def official_unavailable(data: str) -> Optional[str]:
    """Why the official pipeline cannot run on ``data`` (None: it can)."""
    if importlib.util.find_spec('torchvision') is None:
        return 'torchvision is not installed'
    if not any(entry.is_dir() for entry in os.scandir(data)):
        return "torchvision's ImageFolder needs class subfolders; the folder is flat"
    return None


# ------------------------------------------------------------------------- timing

@contextmanager
def one_torch_thread() -> Iterator[None]:
    """One intra-op thread inside, as torch's DataLoader worker loop sets."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _keep(batch):
    return batch


def loader_images_per_s(dataset, workers: int, iters: int) -> float:
    """Aggregate images/s of ``dataset`` through a DataLoader with ``workers``
    processes: ``iters`` images (at least one batch per worker) after the first batch
    of every worker (start-up, untimed)."""
    from torch.utils.data import DataLoader, RandomSampler
    num_batches = max(-(-iters // LOADER_BATCH), workers)
    sampler = RandomSampler(dataset, replacement=True,
                            num_samples=(num_batches + workers) * LOADER_BATCH)
    loader = iter(DataLoader(dataset, batch_size=LOADER_BATCH, sampler=sampler,
                             num_workers=workers, collate_fn=_keep))
    for _ in range(workers):
        next(loader)
    start = time.perf_counter()
    images = sum(len(next(loader)) for _ in range(num_batches))
    return images / (time.perf_counter() - start)


def time_pipeline(which: str, config: str, data: str, iters: int, warmup: int = 5,
                  workers: int = 1, seed: int = 0, cfg_options=None) -> dict:
    """One timed run of pipeline ``which`` (:data:`PIPELINES`) in this process: the
    record of :func:`run_dataloader_benchmark`'s rounds (images/s, ms per image per
    stage and per category)."""
    import random

    import numpy as np
    import torch

    from mmmim.config_loading import config_scope, load_config, parse_cfg_options
    cfg = load_config(config, parse_cfg_options(cfg_options))
    clock = StageClock()
    with config_scope(cfg):
        if which == 'ours':
            dataset, transforms = build_ours(cfg, data)
        elif which == 'mmpretrain':
            dataset, transforms = build_mmpretrain(cfg, data)
        else:
            dataset, transforms = build_official(cfg, data, clock)
        names = time_transforms(transforms, clock)
        load_stage = LOAD_STAGE if which == 'official' else names[0]
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        with time_io(clock), one_torch_thread():
            for i in range(warmup):
                dataset[i % len(dataset)]
            clock.reset()
            start, cpu_start = time.perf_counter(), time.process_time()
            for i in range(warmup, warmup + iters):
                dataset[i % len(dataset)]
            seconds = time.perf_counter() - start
            cpu_seconds = time.process_time() - cpu_start
        stages_ms = {name: 1e3 * s / iters for name, s in clock.seconds.items()}
        groups = categorize(stages_ms, load_stage)
        groups['other'] += 1e3 * seconds / iters - sum(stages_ms.values())  # the dataset
        record = dict(pipeline=which, config=config, error=None, num_files=len(dataset),
                      iters=iters, warmup=warmup, images_per_s=iters / seconds,
                      images_per_cpu_s=iters / cpu_seconds,
                      ms_per_image=1e3 * seconds / iters, stages_ms=stages_ms,
                      categories_ms=groups, loader_workers=workers,
                      loader_images_per_s=None, pid=os.getpid())
        if workers > 1:
            record['loader_images_per_s'] = loader_images_per_s(dataset, workers, iters)
    return record


# ----------------------------------------------------------------- rounds, report

def worker_argv(which: str, config: str, args: argparse.Namespace) -> List[str]:
    argv = [config, '--worker', which, '--data', args.data, '--iters', str(args.iters),
            '--warmup', str(args.warmup), '--workers', str(args.workers),
            '--seed', str(args.seed)]
    if args.cfg_options:
        argv += ['--cfg-options', *args.cfg_options]
    return argv


def skipped(which: str, config: str, reason: str) -> dict:
    return dict(pipeline=which, config=config, error=reason, images_per_s=None)


def median_record(runs: List[dict]) -> dict:
    """The median of each figure over the rounds of one pipeline (the first failure
    when any round failed)."""
    failed = [r for r in runs if r.get('error')]
    if failed:
        return dict(failed[0], rounds=len(runs))
    def med(values):
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else None
    first = runs[0]
    return dict(
        first, rounds=len(runs), images_per_s=med(r['images_per_s'] for r in runs),
        images_per_s_rounds=[r['images_per_s'] for r in runs],
        images_per_cpu_s=med(r['images_per_cpu_s'] for r in runs),
        images_per_cpu_s_rounds=[r['images_per_cpu_s'] for r in runs],
        ms_per_image=med(r['ms_per_image'] for r in runs),
        stages_ms={k: med(r['stages_ms'].get(k) for r in runs) for k in first['stages_ms']},
        categories_ms={k: med(r['categories_ms'][k] for r in runs) for k in CATEGORIES},
        loader_images_per_s=med(r['loader_images_per_s'] for r in runs))


def benchmark_config_pipelines(config: str, args: argparse.Namespace) -> dict:
    """Alternating rounds of the three pipelines for ``config``, each run a fresh
    process; the median record of each and the ratios of ours to the others."""
    from .isolate import run_worker
    reason = official_unavailable(args.data)
    runs: Dict[str, List[dict]] = {which: [] for which in PIPELINES}
    for round_index in range(args.rounds):
        for which in PIPELINES:
            print(f'  round {round_index + 1}/{args.rounds}: {which}', file=sys.stderr,
                  flush=True)
            if which == 'official' and reason:
                runs[which].append(skipped(which, config, reason))
                continue
            runs[which].append(run_worker(
                'mimbench.dataloader', worker_argv(which, config, args),
                lambda message, w=which: skipped(w, config, message)))
    records = {which: median_record(rounds) for which, rounds in runs.items()}
    return dict(config=config, data=args.data, rounds=args.rounds, iters=args.iters,
                workers=args.workers, pipelines=records, **ratios(records, 'images_per_s'),
                per_cpu_s=ratios(records, 'images_per_cpu_s'))


def ratios(records: Dict[str, dict], key: str) -> Dict[str, Optional[float]]:
    """``ours_over_<pipeline>``: ours' median ``key`` over each other pipeline's
    (None where a pipeline failed or was skipped)."""
    ours = records['ours'].get(key)
    return {f'ours_over_{which}': (ours / records[which][key]
                                   if ours and records[which].get(key) else None)
            for which in PIPELINES[1:]}


def _ms(value: Optional[float]) -> str:
    return '-' if value is None else f'{value:.2f}'


def format_report(result: dict) -> str:
    """One row per pipeline: images/s (per process; with workers, the DataLoader's),
    ms per image and its split into :data:`CATEGORIES`, then the ratios."""
    header = ('pipeline', 'images/s', 'images/CPU-s', 'ms/image', *CATEGORIES)
    if result['workers'] > 1:
        header += (f"images/s x{result['workers']} workers",)
    rows = [header]
    reasons = []
    for which, r in result['pipelines'].items():
        if r.get('error'):
            rows.append((which, 'skipped') + ('',) * (len(header) - 2))
            reasons.append(f'{which} skipped: {r["error"]}')
            continue
        row = (which, f"{r['images_per_s']:.1f}", f"{r['images_per_cpu_s']:.1f}",
               _ms(r['ms_per_image']),
               *(_ms(r['categories_ms'][k]) for k in CATEGORIES))
        if result['workers'] > 1:
            row += (f"{r['loader_images_per_s']:.1f}",)
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [f"{result['config']}: {result['iters']} images per run, median of "
             f"{result['rounds']} alternating rounds, one process each"]
    lines += ['  '.join(c.ljust(w) if i == 0 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(row, widths))).rstrip()
              for row in rows]
    ratio = ', '.join(f"ours / {k.split('_over_')[1]} {v:.2f}x" for k, v in result.items()
                      if k.startswith('ours_over_') and v is not None)
    cpu = ', '.join(f"ours / {k.split('_over_')[1]} {v:.2f}x"
                    for k, v in result['per_cpu_s'].items() if v is not None)
    lines += [ratio or 'no ratio (a pipeline failed)'] + reasons
    if cpu:
        lines.append(f'per CPU-second of the process (process_time: what other jobs on '
                     f'the machine change least): {cpu}')
    lines.append('ms per image, exclusive: read = mmengine.fileio.get (official: Pillow '
                 'reads while decoding, in decode); decode = Pillow ImageFile.load, '
                 'simplejpeg.decode_jpeg or cv2.imdecode; convert = the rest of the '
                 'loading transform (header, checks, mode conversion, RGB->BGR); '
                 'crop+resize includes the rest of a loading transform that crops too; '
                 'other = the dataset and the timers')
    return '\n'.join(lines)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument('configs', nargs='+', help='config files')
    parser.add_argument('--data', default=None,
                        help='folder of images (class subfolders for the official row); '
                        f'default: {DEFAULT_NUM_IMAGES} generated ImageNet-like JPEGs')
    parser.add_argument('--workers', type=int, default=1,
                        help='N > 1: also time a DataLoader with N worker processes')
    parser.add_argument('--iters', type=int, default=DEFAULT_NUM_IMAGES,
                        help='images timed per run (cycling over the files)')
    parser.add_argument('--warmup', type=int, default=5, help='untimed images first')
    parser.add_argument('--rounds', type=int, default=3, help='alternating rounds')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--json', default=None, help='write the results to this file')
    parser.add_argument('--cfg-options', nargs='+', default=None)
    parser.add_argument('--worker', choices=PIPELINES, default=None, help=argparse.SUPPRESS)
    parser.add_argument('--worker-out', default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.iters < 1 or args.rounds < 1 or args.workers < 1 or args.warmup < 0:
        parser.error('--iters, --rounds, --workers must be >= 1, --warmup >= 0')
    return args


def worker_main(args: argparse.Namespace) -> int:
    (config,) = args.configs
    try:
        record = time_pipeline(args.worker, config, args.data, args.iters, args.warmup,
                               args.workers, args.seed, args.cfg_options)
    except Exception as error:  # reported as this run's record
        import traceback
        traceback.print_exc()
        record = skipped(args.worker, config, f'{type(error).__name__}: {error}')
    Path(args.worker_out).write_text(json.dumps(record))
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """CLI: exit status 1 when our pipeline or mmpretrain's failed."""
    args = parse_args(argv)
    if args.worker_out:
        return worker_main(args)
    with tempfile.TemporaryDirectory(prefix='mmmim_dataloader_') as tmp:
        if args.data is None:
            from .imagenet_like import write_images
            args.data = tmp
            write_images(tmp, DEFAULT_NUM_IMAGES, args.seed)
        results = []
        for config in args.configs:
            print(config, file=sys.stderr, flush=True)
            results.append(benchmark_config_pipelines(config, args))
            print(format_report(results[-1]), flush=True)
            if args.json:  # after every config: a run cut short keeps the finished ones
                Path(args.json).write_text(json.dumps(results, indent=2))
    return int(any(r['pipelines'][w].get('error') for r in results for w in PIPELINES[:2]))

