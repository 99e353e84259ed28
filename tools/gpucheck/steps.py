"""The steps of the GPU check (the review's 10-minute checklist, shared/spec
gpu-readiness.md), each a function of the :class:`~context.Context` that returns rows.
Training and measurements run in fresh processes with time limits, so a crash or an
out-of-memory error ends one line, not the check. On a machine without CUDA the GPU
lines are skipped as 'needs GPU'."""
from __future__ import annotations

import glob
import json
import os
import socket
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence

from .context import ROOT, Context, Proc, probe, run
from .report import Row, losses_agree, read_losses, skip_rows

DEMO = 'configs/demo/mae_vit-tiny_demo.py'
#: checklist step 1: 40 one-iteration epochs, checkpoints every 20, run b resumed from
#: epoch 20; no loader workers, so that the resumed run is exact
DEMO_EPOCHS, RESUME_EPOCH = 40, 20
#: the issue's list, by pattern so that a renamed micro-batch still matches
BENCH_CONFIGS = (
    'configs/mae/mae_vit-base-p16_8xb*-amp-coslr-400e_in1k.py',
    'configs/ummae/ummae_swin-tiny-w8_8xb*-amp-coslr-200e_in1k-256px.py',
    'configs/ummae/ummae_pvt-small_8xb*-amp-coslr-200e_in1k-256px.py',
    'configs/simmim/simmim_swin-tiny-w16_8xb*-amp-coslr-200e_in1k-256px.py',
    'configs/localmim/localmim_vit-base-p16_8xb*-amp-coslr-100e_in1k.py',
    'configs/pixmim/pixmim_vit-base-p16_8xb*-amp-coslr-300e_in1k.py',
)
DTYPES = {'float16': 'fp16', 'bfloat16': 'bf16'}
PROFILE_CONFIGS = BENCH_CONFIGS[0], BENCH_CONFIGS[3]  # SDPA ViT; explicit Swin windows
MASK_RCNN = 'configs/benchmarks/mmdetection/coco/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py'
UPERNET = ('configs/benchmarks/mmsegmentation/ade20k/'
           'swin-tiny-patch4-window7_upernet_8xb2-160k_ade20k-512x512.py')


@dataclass
class Step:
    """A step: its name, the lines it reports (named up front, for skips), whether it
    needs CUDA, a time estimate on one H100 (it is skipped when less is left), and
    the function that runs it."""

    name: str
    lines: Sequence[str]
    gpu: bool
    estimate_s: float
    fn: Callable[[Context], List[Row]]


def config_path(pattern: str) -> str:
    """The one config matching ``pattern`` (relative to the repository)."""
    found = sorted(glob.glob(os.path.join(ROOT, pattern)))
    if len(found) != 1:
        raise FileNotFoundError(f'{len(found)} configs match {pattern}')
    return os.path.relpath(found[0], ROOT)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def dist_train(ctx: Context, config: str, work_dir: str, options: Sequence[str],
               extra: Sequence[str] = (), timeout: float = 120,
               extra_paths: Sequence[str] = ()) -> Proc:
    """``bash tools/dist_train.sh CONFIG 1 --amp --work-dir DIR [extra] [--cfg-options
    options]`` with a free port."""
    command = ['bash', 'tools/dist_train.sh', config, '1', '--amp', '--work-dir', work_dir,
               *extra, *(['--cfg-options', *options] if options else [])]
    os.makedirs(work_dir, exist_ok=True)
    return run(command, min(timeout, ctx.left() + 30),
               ctx.env(extra_paths, PORT=str(free_port())),
               log=os.path.join(work_dir, 'run.log'))


def ensure_demo_data(ctx: Context) -> Optional[Proc]:
    """data/demo (the demo photographs), written once."""
    if glob.glob(os.path.join(ROOT, 'data/demo/*.jpg')):
        return None
    return run([ctx.python, 'tools/dataset_converters/prepare_demo_images.py'], 120,
               ctx.env(), log=ctx.path('prepare_demo_images.log'))


def demo_options(dtype: str) -> List[str]:
    """``--cfg-options`` of the demo runs (:data:`DEMO_EPOCHS`, :data:`RESUME_EPOCH`)."""
    return [f'optim_wrapper.dtype={dtype}', f'train_cfg.max_epochs={DEMO_EPOCHS}',
            f'default_hooks.checkpoint.interval={RESUME_EPOCH}',
            'default_hooks.checkpoint.max_keep_ckpts=3', 'default_hooks.logger.interval=1',
            'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False']


def train_row(step: str, name: str, proc: Proc, work_dir: str) -> Row:
    """pass with the last logged loss, or fail with the error line."""
    if not proc.ok:
        return Row(step, name, 'fail', f'{proc.seconds:.0f} s', proc.error_line())
    try:
        loss = read_losses(work_dir)[-1]
    except (FileNotFoundError, IndexError) as error:
        return Row(step, name, 'fail', f'{proc.seconds:.0f} s', str(error))
    return Row(step, name, 'pass', f'loss {loss:.4f}, {proc.seconds:.0f} s')


def demo_and_resume(ctx: Context, dtype: str = 'float16') -> List[Row]:
    """Checklist step 1: the demo through the real launcher (NCCL, DDP, fp16 GradScaler,
    fused AdamW, checkpoints), then run b resumed from a's middle checkpoint: b's last loss must
    equal a's (masks, optimizer, scaler and RNG states restored exactly)."""
    prepared = ensure_demo_data(ctx)
    if prepared is not None and not prepared.ok:
        return [Row('demo', 'demo data', 'fail', '', prepared.error_line())]
    options = demo_options(dtype)
    a, b = ctx.path(f'demo_{dtype}_a'), ctx.path(f'demo_{dtype}_b')
    run_a = dist_train(ctx, DEMO, a, options)
    rows = [train_row('demo', f'demo {DTYPES[dtype]} (dist_train.sh 1 --amp)', run_a, a)]
    if rows[0].status != 'pass':
        return rows + skip_rows('demo', ['resume == uninterrupted'], 'run a failed')
    run_b = dist_train(ctx, DEMO, b, options,
                       extra=['--resume', os.path.join(a, f'epoch_{RESUME_EPOCH}.pth')])
    if not run_b.ok:
        return rows + [Row('demo', 'resume == uninterrupted', 'fail', '', run_b.error_line())]
    la, lb = read_losses(a), read_losses(b)
    same = losses_agree(la, lb)
    return rows + [Row('demo', 'resume == uninterrupted', 'pass' if same else 'fail',
                       f'last loss a {la[-1]:.6f}, b {lb[-1]:.6f}',
                       'equal within 1e-4' if same else 'the resumed run differs')]


def demo_bf16(ctx: Context) -> List[Row]:
    """The demo through the launcher with bf16 autocast."""
    work = ctx.path('demo_bf16')
    proc = dist_train(ctx, DEMO, work, demo_options('bfloat16'))
    return [train_row('demo_bf16', 'demo bf16 (dist_train.sh 1 --amp)', proc, work)]


def bench_line(config: str, record: dict, ceiling: Optional[float]) -> Row:
    """One benchmark record as a row: images/s, peak memory, FLOP fraction."""
    name = os.path.basename(config).split('_8xb')[0]
    if record.get('error'):
        return Row('bench', name, 'fail', '', record['error'])
    fraction = (record['achieved_flops_per_s'] / ceiling
                if ceiling and record.get('achieved_flops_per_s') else None)
    value = (f"{record['images_per_s']:.0f} img/s, {record['peak_mem_mb'] / 1024:.1f} GB"
             + (f', {100 * fraction:.0f}% of bf16 peak' if fraction else ''))
    return Row('bench', name, 'figure', value, f"batch {record['batch_size']} per GPU")


def bench(ctx: Context) -> List[Row]:
    """benchmark_pretrain.py --device cuda --amp on each config at its per-GPU batch
    (``--batch-size 0``); the FLOP fraction against the bf16 matmul ceiling measured
    here at a size that fills the GPU."""
    ceiling, proc = probe(ctx, 'ceiling', 60)
    peak = ceiling and ceiling['bf16_flops_per_s']
    rows = [Row('bench', 'bf16 matmul ceiling', 'figure' if peak else 'fail',
                f'{peak / 1e12:.0f} TFLOP/s' if peak else '',
                f"{ceiling['side']}^3 bf16 product" if peak else proc.error_line())]
    configs = [config_path(p) for p in BENCH_CONFIGS]
    out = ctx.path('bench.json')
    proc = run([ctx.python, 'tools/analysis_tools/benchmark_pretrain.py', *configs,
                '--batch-size', '0', '--iters', '5', '--warmup', '2', '--amp',
                '--device', 'cuda', '--json', out],
               min(60 + 60 * len(configs), ctx.left() + 30), ctx.env(),
               log=ctx.path('bench.log'))
    if not os.path.exists(out):
        return rows + [Row('bench', 'benchmark_pretrain', 'fail', '', proc.error_line())]
    with open(out) as f:
        records = json.load(f)
    ctx.details['bench'] = records
    return rows + [bench_line(c, r, peak) for c, r in zip(configs, records)]


def step_profile(ctx: Context) -> List[Row]:
    """Checklist step 3: host syncs of one training step and the attention kernels."""
    rows = []
    for pattern in PROFILE_CONFIGS:
        config = config_path(pattern)
        name = os.path.basename(config).split('_8xb')[0]
        record, proc = probe(ctx, 'step_profile', 150, '--configs', config, '--batch', '32')
        if record is None:
            rows += [Row('profile', f'{name} {what}', 'fail', '', proc.error_line())
                     for what in ('host syncs', 'attention kernels')]
            continue
        ctx.details[f'profile {name}'] = record
        syncs = record['syncs']
        kernels = sorted(record['attention'], key=lambda k: -record['attention'][k])
        rows += [Row('profile', f'{name} host syncs', 'figure', f'{len(syncs)} in one step',
                     ', '.join(dict.fromkeys(syncs))),
                 Row('profile', f'{name} attention kernels', 'figure',
                     f'{len(kernels)} kinds', '; '.join(kernels[:4]))]
    return rows
