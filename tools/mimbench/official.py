"""Ours against the official codes: the official pretraining models, run from a user's
local checkout, timed side by side with our paired configs.

    python tools/analysis_tools/benchmark_official.py --ummae-root PATH \
        --localmim-root PATH --mae-root PATH [--pairs NAME ...] [--repeats R] ...

:data:`OFFICIAL_MODELS` names each official model: the checkout it needs, its factory
and the paper recipe's constructor arguments, how its training loop masks and calls it
(:class:`OfficialModel`) and our config it is paired with. Every run is a fresh
process: ours is :func:`mimbench.isolate.run_isolated` (the config
benchmark), theirs is this module's worker (:func:`benchmark_official`), both timed by
the one procedure :func:`mimbench.measure.measure_steps`. A pair runs ours
and theirs alternately (A B A B ...) and reports medians (:func:`summarize_pair`).
Nothing of the official codes is part of mmmim; the shims they need today are in
:mod:`.official_shims`. See docs/benchmark.md, "Against the official codes".
"""
import argparse
import importlib
import json
import statistics
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from .data import normalized_photo_batch
from .isolate import run_isolated, run_worker
from .measure import (
    FIGURES,
    StageError,
    Step,
    imports_peak_mb,
    measure_steps,
    parameter_counts,
    peak_memory_mb,
    run_settings,
    stage,
)
from .official_shims import Shims
from .precision import amp_dtype

REPO_ROOT = Path(__file__).resolve().parents[2]
WEIGHT_DECAY = 0.05  # every official recipe here (main_pretrain.py / run_pretrain.py)
ADAMW_BETAS = (0.9, 0.95)


class CheckoutError(FileNotFoundError):
    """A checkout option is missing or does not hold the expected file."""


@dataclass(frozen=True)
class Checkout:
    """A repository the user clones; ``folders``: where in it the model files may be
    (the first that holds the module wins; '' is the given root itself)."""
    option: str
    url: str
    folders: Tuple[str, ...] = ('',)

    @property
    def dest(self) -> str:
        return self.option.lstrip('-').replace('-', '_')

    def model_folder(self, root: Optional[str], module: str) -> Path:
        """The folder of ``root`` holding ``module``.py; :class:`CheckoutError` naming
        the option, the path and the clone URL otherwise."""
        if not root:
            raise CheckoutError(f'{self.option} not given: clone {self.url} and pass '
                                f'{self.option} PATH')
        candidates = [Path(root) / folder for folder in self.folders]
        for folder in candidates:
            if (folder / f'{module}.py').is_file():
                return folder.resolve()
        where = ' or '.join(str(c / f'{module}.py') for c in candidates)
        raise CheckoutError(f'{self.option} {root}: {module}.py not found ({where}); '
                            f'clone {self.url}')


UMMAE = Checkout('--ummae-root', 'https://github.com/implus/UM-MAE')
LOCALMIM = Checkout('--localmim-root', 'https://github.com/huawei-noah/Efficient-Computing',
                    ('Self-supervised/LocalMIM/ViT', 'LocalMIM/ViT', 'ViT', ''))
MAE = Checkout('--mae-root', 'https://github.com/facebookresearch/mae')
CHECKOUTS = (UMMAE, LOCALMIM, MAE)


@dataclass(frozen=True)
class OfficialModel:
    """One official pretraining model and the config of ours it is compared with.

    ``mask``: how the official training loop masks. ``dict(generator=...)``: a mask
    per sample from the checkout's data-side generator (UM-MAE's
    ``mask_transform.RandomMaskingGenerator(token_size, mask_ratio, regular)``),
    handed to ``model(images, mask=bool [B, L])`` as its ``engine_pretrain.py``
    does; ``dict(mask_ratio=r)``: the model masks itself, ``model(images,
    mask_ratio=r)``. ``batch_size``: the default batch (``--batch-size`` overrides).
    """
    name: str
    checkout: Checkout
    module: str
    factory: str
    kwargs: Dict[str, object]
    mask: Dict[str, object]
    image_size: int
    batch_size: int
    ours: str
    note: str = ''
    title: str = ''
    #: classes of the model's module whose forward breaks under CPU bf16 autocast
    #: (written for CUDA fp16 autocast): run in fp32 there (:meth:`Shims.fp32_forward`)
    fp32_on_cpu_autocast: Dict[str, str] = field(default_factory=dict)

    def forward_fn(self, model: nn.Module, images: torch.Tensor,
                   masks: Optional[List[torch.Tensor]]) -> Callable[[int], object]:
        """``forward(i)``: the official model's forward on step ``i``, as its training
        loop calls it."""
        if masks is not None:
            return lambda i: model(images, mask=masks[i % len(masks)])
        ratio = self.mask['mask_ratio']
        return lambda i: model(images, mask_ratio=ratio)


def _ummae_masks(regular: bool) -> dict:
    # main_pretrain.py / Makefile: --token_size 16 --mask_ratio 0.75 [--mask_regular]
    return dict(generator='mask_transform.RandomMaskingGenerator', token_size=16,
                mask_ratio=0.75, regular=regular)


_MASKS_OFF_CLOCK = ('Their masks are drawn by the data pipeline (not timed, like data '
                    'loading); ours are drawn by the model (timed).')
OFFICIAL_MODELS: Dict[str, OfficialModel] = {m.name: m for m in (
    OfficialModel(
        'ummae_swin_tiny_256', UMMAE, 'models_mae_swin', 'mae_swin_tiny_256',
        dict(norm_pix_loss=True, vis_mask_ratio=0.25), _ummae_masks(True), 256, 8,
        'configs/ummae/ummae_swin-tiny-w8_8xb512-amp-coslr-200e_in1k-256px.py',
        title='UM-MAE Swin-T 256',
        note='Same dims, depths, window 8 on the compact grid, 512-d x 2 decoder, '
             'normalized-pixel MSE, 25% secondary masking. Differs: the official '
             'relative position bias is an MLP of the true coordinates, recomputed '
             'per window and sample each forward; ours is the standard bias table on '
             'the compact grid. ' + _MASKS_OFF_CLOCK),
    OfficialModel(
        'ummae_pvt_small_256', UMMAE, 'models_mae_pvt', 'mae_pvt_small_256',
        dict(norm_pix_loss=True, vis_mask_ratio=0.25), _ummae_masks(True), 256, 8,
        'configs/ummae/ummae_pvt-small_8xb512-amp-coslr-200e_in1k-256px.py',
        title='UM-MAE PVT-S 256',
        note='Same dims, depths, SR ratios 4/2/1/1 on the compact grid (pooled SR), '
             '512-d x 2 decoder, normalized-pixel MSE. Differs: ours is mmdet\'s PVT '
             '(a position embedding and a LayerNorm in every stage\'s patch embedding; '
             'the official has one sin-cos embedding at stage 1 and no patch-embedding '
             'norm). ' + _MASKS_OFF_CLOCK),
    OfficialModel(
        'simmim_swin_tiny_256', UMMAE, 'models_simmim_swin', 'simmim_swin_tiny_256',
        dict(norm_pix_loss=False), _ummae_masks(False), 256, 8,
        'configs/simmim/simmim_swin-tiny-w16_8xb512-amp-coslr-200e_in1k-256px.py',
        title='SimMIM Swin-T 256 (UM-MAE paper baseline)',
        note='The UM-MAE repo\'s SimMIM: window 16, a random 75% of 16-px units as mask '
             'tokens on the full grid, linear decoder from stride 32, L1. Differs: the '
             'official position bias MLP (see UM-MAE Swin-T). ' + _MASKS_OFF_CLOCK),
    OfficialModel(
        'simmim_pvt_small_256', UMMAE, 'models_simmim_pvt', 'simmim_pvt_small_256',
        dict(norm_pix_loss=False), _ummae_masks(False), 256, 8,
        'configs/simmim/simmim_pvt-small_8xb512-amp-coslr-200e_in1k-256px.py',
        title='SimMIM PVT-S 256 (UM-MAE paper baseline)',
        note='SR ratios 8/4/2/1 on the full grid, 75% of 16-px units as mask tokens, '
             'L1. Differs: mmdet\'s PVT (see UM-MAE PVT-S). ' + _MASKS_OFF_CLOCK),
    OfficialModel(
        'localmim_vit_base', LOCALMIM, 'models_mim', 'MIM_vit_base_patch16',
        dict(hog_nbins=9, hog_bias=False), dict(mask_ratio=0.75), 224, 16,
        'configs/localmim/localmim_vit-base-p16_8xb256-amp-coslr-100e_in1k.py',
        title='LocalMIM ViT-B',
        fp32_on_cpu_autocast=dict(HOGLayer='scatter_ of the bf16 magnitude into a '
                                  'float32 histogram fails; CUDA autocast runs it in fp32'),
        note='Same: ViT-B/16, random 75% masking in the model, taps after blocks '
             '2/4/10/12, four 256-d x 1 decoders (x4/x2/x1/x0.5), HOG targets '
             '(9 bins, 4/8/16/32-px cells), masked MSE summed over scales.'),
    OfficialModel(
        'mae_vit_base', MAE, 'models_mae', 'mae_vit_base_patch16',
        dict(norm_pix_loss=True), dict(mask_ratio=0.75), 224, 16,
        'configs/mae/mae_vit-base-p16_8xb512-amp-coslr-400e_in1k.py',
        title='MAE ViT-B',
        note='Same: ViT-B/16, random 75% masking in the model, 512-d x 8 decoder, '
             'normalized-pixel MSE (PRETRAIN.md\'s --norm_pix_loss).'),
)}


# ------------------------------------------------------------------- the worker side

def weight_decay_groups(model: nn.Module, weight_decay: float) -> List[dict]:
    """The official loops' AdamW groups (timm's ``add_weight_decay``, which their
    ``main_pretrain.py`` calls): trainable parameters that are 1-D or biases get no
    weight decay, all others ``weight_decay``."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (no_decay if param.ndim <= 1 or name.endswith('.bias') else decay).append(param)
    return [dict(params=no_decay, weight_decay=0.), dict(params=decay, weight_decay=weight_decay)]


def draw_masks(generator_cls, spec: dict, batch_size: int, steps: int,
               device: str) -> List[torch.Tensor]:
    """One bool ``[B, L]`` mask batch per step from the official generator, as the
    official loop hands them to the model (``.flatten(1).to(torch.bool)``)."""
    import numpy as np
    generator = generator_cls(spec['token_size'], spec['mask_ratio'], spec['regular'])
    return [torch.from_numpy(np.stack([generator() for _ in range(batch_size)]))
            .to(device).flatten(1).to(torch.bool) for _ in range(steps)]


def gradient_norm(parameters) -> torch.Tensor:
    """The L2 norm of all gradients, which the official loss scalers
    (``util.misc.NativeScalerWithGradNormCount``) compute every step."""
    norms = [torch.linalg.vector_norm(p.grad.detach()) for p in parameters
             if p.grad is not None]
    return torch.linalg.vector_norm(torch.stack(norms)) if norms else torch.zeros(())


def official_step(model: nn.Module, forward: Callable[[int], object],
                  optimizer: torch.optim.Optimizer, scaler, device: str,
                  dtype: Optional[torch.dtype]) -> Step:
    """The official training loops' step as a :data:`Step`: forward (under autocast
    at ``dtype``, none for fp32), ``loss.item()``, then their loss scaler's work:
    scaled backward, unscale, gradient norm, optimizer step, scaler update; then
    ``zero_grad``."""
    device_type = torch.device(device).type
    params = [p for p in model.parameters() if p.requires_grad]

    def step(i: int) -> float:
        with torch.autocast(device_type, dtype=dtype or torch.float32,
                            enabled=dtype is not None):
            out = forward(i)
        loss = out[0] if isinstance(out, (tuple, list)) else out
        value = loss.item()
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        gradient_norm(params)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad()
        return value

    return step


def import_checkout(entry: OfficialModel, root: str, shims: Shims,
                    autocast_on_cpu: bool = False):
    """The entry's factory and (if any) mask generator class from the checkout."""
    folder = entry.checkout.model_folder(root, entry.module)
    with stage('shims'):
        shims.install()
    sys.path.insert(0, str(folder))
    with stage(f'import {folder / entry.module}.py'):
        module = importlib.import_module(entry.module)
        factory = getattr(module, entry.factory, None)
        if factory is None:
            raise AttributeError(f'{entry.module}.py has no {entry.factory}')
        generator = None
        if 'generator' in entry.mask:
            module_name, cls_name = entry.mask['generator'].rsplit('.', 1)
            generator = getattr(importlib.import_module(module_name), cls_name)
        for cls_name, why in entry.fp32_on_cpu_autocast.items():
            if autocast_on_cpu:
                shims.fp32_forward(getattr(module, cls_name), why)
    return folder, factory, generator


@dataclass
class OfficialRun:
    """An official model built for timing: its training step and what the record
    reports of it."""
    step: Step
    model: nn.Module
    optimizer: torch.optim.Optimizer
    grad_scaler: bool
    folder: Path
    dtype: Optional[torch.dtype]
    imports_mb: Optional[float]
    image_size: Tuple[int, int]


def build_official(name: str, root: str, batch_size: int, steps: int, amp: bool = False,
                   device: str = 'cpu', seed: int = 0,
                   shims: Optional[Shims] = None) -> OfficialRun:
    """The official model ``name`` of the checkout ``root``, its AdamW and loss
    scaler, one photo batch and ``steps`` mask batches, as its training loop runs
    them (the shims change this process's modules: run it in a fresh one)."""
    entry = OFFICIAL_MODELS[name]
    shims = shims or Shims()
    dtype = amp_dtype(device) if amp else None
    folder, factory, generator = import_checkout(
        entry, root, shims, autocast_on_cpu=dtype is not None and device == 'cpu')
    torch.manual_seed(seed)
    import numpy as np
    np.random.seed(seed)
    imports_mb = imports_peak_mb(device)
    with stage('build model'):
        model = factory(**entry.kwargs).to(device).train()
    with stage('build optimizer'):
        optimizer = torch.optim.AdamW(weight_decay_groups(model, WEIGHT_DECAY), lr=1e-4,
                                      betas=ADAMW_BETAS)
        scaler = torch.amp.GradScaler(torch.device(device).type,
                                      enabled=device.startswith('cuda') and dtype == torch.float16)
    with stage('prepare batch'):
        hw = (entry.image_size, entry.image_size)
        images = normalized_photo_batch(batch_size, hw).to(device)
        masks = draw_masks(generator, entry.mask, batch_size, steps, device) if generator else None
    step = official_step(model, entry.forward_fn(model, images, masks), optimizer, scaler,
                         device, dtype)
    return OfficialRun(step, model, optimizer, scaler.is_enabled(), folder, dtype,
                       imports_mb, hw)


def benchmark_official(name: str, root: str, batch_size: int, iters: int, warmup: int = 1,
                       amp: bool = False, device: str = 'cpu', seed: int = 0,
                       flops: bool = True, shims: Optional[Shims] = None) -> dict:
    """Benchmark the official model ``name`` of the checkout ``root`` in this process
    (the shims change this process's modules: run it in a fresh one)."""
    entry = OFFICIAL_MODELS[name]
    shims = shims or Shims()
    run = build_official(name, root, batch_size, warmup + iters, amp, device, seed, shims)
    figures = measure_steps(run.step, batch_size, warmup, iters, device, run.dtype, flops)
    peak_mb, peak_kind = peak_memory_mb(device)
    return dict(
        config=name, official=name, error=None, model=type(run.model).__name__,
        factory=f'{entry.module}.{entry.factory}', root=str(run.folder),
        optimizer=type(run.optimizer).__name__, grad_scaler=run.grad_scaler,
        shims=list(shims.used), **figures, peak_mem_mb=peak_mb, peak_mem_kind=peak_kind,
        peak_mem_before_model_mb=run.imports_mb, **parameter_counts(run.model),
        image_size=list(run.image_size), data='photos', distinct_batches=1,
        **run_settings(batch_size, iters, warmup, device, run.dtype))


def official_failure(name: str, message: str, shims: Sequence[str] = ()) -> dict:
    return dict(config=name, official=name, error=message, shims=list(shims),
                **{key: None for key in FIGURES})


def worker_main(args: argparse.Namespace) -> int:
    """Benchmark ``args.worker`` and write its record to ``args.worker_out``."""
    shims = Shims()
    try:
        entry = OFFICIAL_MODELS[args.worker]
        result = benchmark_official(args.worker, getattr(args, entry.checkout.dest),
                                    args.batch_size, args.iters, args.warmup, args.amp,
                                    args.device, args.seed, not args.no_flops, shims)
    except Exception as error:  # reported in the record, never raised
        traceback.print_exc()
        cause = str(error) if isinstance(error, (StageError, CheckoutError)) else \
            f'{type(error).__name__}: {error}'
        result = official_failure(args.worker, cause, shims.used)
    Path(args.worker_out).write_text(json.dumps(result))
    return 0


# ------------------------------------------------------------------- the parent side

def side_options(args: argparse.Namespace, batch_size: int) -> List[str]:
    argv = ['--batch-size', str(batch_size), '--iters', str(args.iters),
            '--warmup', str(args.warmup), '--device', args.device, '--seed', str(args.seed)]
    return argv + ['--amp'] * bool(args.amp) + ['--no-flops'] * bool(args.no_flops)


def run_official_isolated(name: str, args: argparse.Namespace, batch_size: int) -> dict:
    """:func:`benchmark_official` in a fresh process (:func:`run_worker`)."""
    entry = OFFICIAL_MODELS[name]
    argv = ['--worker', name, entry.checkout.option, str(getattr(args, entry.checkout.dest)),
            *side_options(args, batch_size)]
    return run_worker('mimbench.official', argv,
                      lambda message: official_failure(name, message))


def run_ours_isolated(name: str, args: argparse.Namespace, batch_size: int) -> dict:
    """Our paired config through the config benchmark's fresh process, at the official
    model's input size."""
    entry = OFFICIAL_MODELS[name]
    ours_args = argparse.Namespace(
        batch_size=batch_size, iters=args.iters, warmup=args.warmup, device=args.device,
        seed=args.seed, amp=args.amp, pipeline=False, no_flops=args.no_flops,
        image_size=entry.image_size, cfg_options=None)
    return run_isolated(str(REPO_ROOT / entry.ours), ours_args)


Runner = Callable[[str, argparse.Namespace, int], dict]


def run_pair(name: str, args: argparse.Namespace, run_ours: Runner = run_ours_isolated,
             run_theirs: Runner = run_official_isolated) -> List[dict]:
    """``args.repeats`` alternating runs, ours then theirs (A B A B ...): one record
    per run, in order, tagged with ``pair``, ``side`` and ``repeat``."""
    batch_size = args.batch_size or OFFICIAL_MODELS[name].batch_size
    runs = []
    for repeat in range(args.repeats):
        for side, run in (('ours', run_ours), ('official', run_theirs)):
            print(f'[{name} {repeat + 1}/{args.repeats}] {side}', file=sys.stderr, flush=True)
            record = run(name, args, batch_size)
            runs.append(dict(record, pair=name, side=side, repeat=repeat))
    return runs


def _median(values: Sequence[float]) -> Optional[float]:
    return statistics.median(values) if values else None


def _above_base(record: dict) -> Optional[float]:
    base = record.get('peak_mem_before_model_mb')
    return record['peak_mem_mb'] - base if base is not None else None


def summarize_pair(name: str, runs: Sequence[dict]) -> dict:
    """Medians of one pair's runs: images/s and peak memory of each side, and the
    per-repeat ratios ours / official (of images/s, of peak memory, of peak memory
    above the import base), over the repeats where both sides ran."""
    mine = [r for r in runs if r['pair'] == name]
    by_side = {side: {r['repeat']: r for r in mine if r['side'] == side and not r.get('error')}
               for side in ('ours', 'official')}
    both = sorted(set(by_side['ours']) & set(by_side['official']))

    def ratios(figure: Callable[[dict], Optional[float]]) -> List[float]:
        pairs = [(figure(by_side['ours'][k]), figure(by_side['official'][k])) for k in both]
        return [a / b for a, b in pairs if a is not None and b]

    def medians(side: str, figure: Callable[[dict], Optional[float]]) -> Optional[float]:
        return _median([v for v in map(figure, by_side[side].values()) if v is not None])

    entry = OFFICIAL_MODELS[name]
    ran = next(iter(by_side['ours'].values()), None) or next(
        iter(by_side['official'].values()), None)
    return dict(
        pair=name, title=entry.title or name, ours=entry.ours,
        official=f'{entry.module}.{entry.factory}', note=entry.note,
        batch_size=ran['batch_size'] if ran else None, dtype=ran['dtype'] if ran else None,
        repeats_ok=len(both),
        ours_images_per_s=medians('ours', lambda r: r['images_per_s']),
        official_images_per_s=medians('official', lambda r: r['images_per_s']),
        images_per_s_ratio=_median(ratios(lambda r: r['images_per_s'])),
        ours_peak_mem_mb=medians('ours', lambda r: r['peak_mem_mb']),
        official_peak_mem_mb=medians('official', lambda r: r['peak_mem_mb']),
        peak_mem_ratio=_median(ratios(lambda r: r['peak_mem_mb'])),
        ours_peak_above_base_mb=medians('ours', _above_base),
        official_peak_above_base_mb=medians('official', _above_base),
        peak_above_base_ratio=_median(ratios(_above_base)),
        shims=sorted({s for r in mine for s in r.get('shims') or ()}),
        errors=[f"{r['side']} run {r['repeat'] + 1}: {r['error']}" for r in mine
                if r.get('error')])


def _cell(value: Optional[float], fmt: str = '{:.2f}') -> str:
    return '-' if value is None else fmt.format(value)


def format_pairs_table(summaries: Sequence[dict], args: argparse.Namespace) -> str:
    """A markdown table, one row per pair, then the settings, shims and failures."""
    lines = ['| pair (batch, precision) | ours images/s | official images/s | '
             'images/s ours/official | peak RSS MB ours / official | peak ratio '
             '(above import base) |', '|---|---|---|---|---|---|']
    for s in summaries:
        lines.append(
            f"| {s['title']} ({s['batch_size'] or '-'}, {s['dtype'] or '-'}) | "
            f"{_cell(s['ours_images_per_s'])} | {_cell(s['official_images_per_s'])} | "
            f"**{_cell(s['images_per_s_ratio'])}x** | {_cell(s['ours_peak_mem_mb'], '{:.0f}')}"
            f" / {_cell(s['official_peak_mem_mb'], '{:.0f}')} | "
            f"{_cell(s['peak_mem_ratio'])}x ({_cell(s['peak_above_base_ratio'])}x) |")
    lines.append('')
    lines.append(f'Medians of {args.repeats} alternating runs per side (ours, official, '
                 f'ours, ...), each a fresh process; ratios: median of the per-repeat '
                 f'ratios; {args.iters} timed iterations after {args.warmup} warm-up; '
                 f'device {args.device}, torch {torch.__version__}, '
                 f'{torch.get_num_threads()} threads.')
    for s in summaries:
        if s['shims']:
            lines.append(f"- {s['pair']}: shims used: {'; '.join(s['shims'])}")
        lines += [f"- FAILED {s['pair']} {e}" for e in s['errors']]
    return '\n'.join(lines)


# ------------------------------------------------------------------------------ CLI

def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Time the official pretraining codes side by side with our configs.')
    for checkout in CHECKOUTS:
        parser.add_argument(checkout.option, default=None, metavar='PATH',
                            help=f'a local clone of {checkout.url}')
    parser.add_argument('--pairs', nargs='+', default=None, choices=sorted(OFFICIAL_MODELS),
                        help='default: every pair whose checkout was given')
    parser.add_argument('--repeats', type=int, default=3,
                        help='alternating runs per side and pair (default 3)')
    parser.add_argument('--batch-size', type=int, default=None,
                        help="default: each pair's (8 for the 256-px pyramids, 16 for ViT-B)")
    parser.add_argument('--iters', type=int, default=10, help='timed iterations (default 10)')
    parser.add_argument('--warmup', type=int, default=2, help='untimed iterations first')
    parser.add_argument('--amp', action='store_true',
                        help='bf16 autocast on CPU; on CUDA bf16 where supported, else fp16 '
                        'with a GradScaler')
    parser.add_argument('--no-flops', action='store_true', help='skip FLOPs and the ceiling')
    parser.add_argument('--device', choices=('cpu', 'cuda'), default=None,
                        help='default: cuda when available')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--json', default=None, help='write the summaries and every run')
    parser.add_argument('--worker', default=None, choices=sorted(OFFICIAL_MODELS),
                        help=argparse.SUPPRESS)
    parser.add_argument('--worker-out', default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.iters < 1 or args.warmup < 0 or args.repeats < 1 or (
            args.batch_size is not None and args.batch_size < 1):
        parser.error('--iters, --repeats and --batch-size must be >= 1, --warmup >= 0')
    args.device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    if not args.worker:
        args.pairs = select_pairs(parser, args)
    return args


def select_pairs(parser: argparse.ArgumentParser, args: argparse.Namespace) -> List[str]:
    """The pairs asked for (every pair whose root was given by default); an error
    naming the option when a pair's checkout is missing or lacks its file."""
    given = {c.option for c in CHECKOUTS if getattr(args, c.dest)}
    names = args.pairs or [n for n, m in OFFICIAL_MODELS.items() if m.checkout.option in given]
    if not names:
        parser.error('give at least one of ' + ', '.join(c.option for c in CHECKOUTS))
    for name in names:
        entry = OFFICIAL_MODELS[name]
        try:
            entry.checkout.model_folder(getattr(args, entry.checkout.dest), entry.module)
        except CheckoutError as error:
            parser.error(f'{name}: {error}')
    return names


def main(argv: Optional[Sequence[str]] = None) -> int:
    """CLI: the pairs, each A B A B ... in fresh processes; exit status 1 when any run
    failed."""
    args = parse_args(argv)
    if args.worker:
        return worker_main(args)
    runs = [run for name in args.pairs for run in run_pair(name, args)]
    summaries = [summarize_pair(name, runs) for name in args.pairs]
    print(format_pairs_table(summaries, args))
    if args.json:
        Path(args.json).write_text(json.dumps(
            dict(settings={k: v for k, v in vars(args).items() if k not in
                           ('worker', 'worker_out')}, pairs=summaries, runs=runs), indent=2))
    return int(any(r.get('error') for r in runs))

