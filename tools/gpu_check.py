"""The GPU check: the review's 10-minute checklist (shared/spec/gpu-readiness.md) as one
run on one GPU, in about 8 minutes. Usually started through ``tools/gpu_check.sh``.

    python tools/gpu_check.py [--work-dir DIR] [--budget-s 480] [--wheels DIR]
        [--steps NAME ...] [--build-ops auto|no]
    python tools/gpu_check.py --prepare DIR [--python-version 3.12]
        [--platform manylinux2014_x86_64] [--with-opencv] [--dry-run]

``--prepare DIR`` (a machine with network) downloads the OpenMMLab packages, their
small dependencies and mmcv's source archive for the GPU machine's python into DIR.
``--wheels DIR`` (the GPU machine, offline) installs them under the work dir next to
the machine's own torch, with mmcv first without compiled ops (pretraining calls none),
and builds mmcv's CUDA ops for the GPU's arch in the background; the detection lines
run if that build ends inside ``--budget-s``, and say so otherwise.

Prints one table (pass / fail / skip / figure per line) and writes
``DIR/gpu_check.json``. Without CUDA, the GPU lines are skipped as 'needs GPU'. Exit
status 1 when a line failed.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from typing import List, Optional, Sequence

from gpucheck import downstream, host, steps, wheels
from gpucheck.context import Context
from gpucheck.report import NEEDS_GPU, Row, format_table, skip_rows, summary, write_json

STEPS = (
    steps.Step('env', ('torch on the GPU',), False, 15, host.env),
    steps.Step('demo', ('demo fp16 (dist_train.sh 1 --amp)', 'resume == uninterrupted'),
               True, 70, steps.demo_and_resume),
    steps.Step('demo_bf16', ('demo bf16 (dist_train.sh 1 --amp)',), True, 30,
               steps.demo_bf16),
    steps.Step('bench', ('benchmark_pretrain --device cuda --amp',), True, 150, steps.bench),
    steps.Step('profile', ('host syncs', 'attention kernels'), True, 50, steps.step_profile),
    steps.Step('loader', ('8 workers',), False, 40, host.loader),
    steps.Step('mmcv_ops', downstream.OPS_LINES, True, 15, downstream.mmcv_ops),
    steps.Step('detection', ('mask_rcnn swin-t --amp', 'upernet swin-t --amp'), True, 110,
               downstream.detection),
)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/gpu_check')
    parser.add_argument('--budget-s', type=float, default=480,
                        help='seconds for the whole run: a step that would not fit is '
                        'skipped, and the mmcv ops build is waited for only this long')
    parser.add_argument('--steps', nargs='+', choices=[s.name for s in STEPS],
                        help='run only these (env always runs); the others are skipped')
    parser.add_argument('--wheels', help='folder made by --prepare: install from it first')
    parser.add_argument('--build-ops', choices=('auto', 'no'), default='auto',
                        help="auto: build mmcv's CUDA ops for the detection lines when "
                        'the installed mmcv has none')
    parser.add_argument('--prepare', metavar='DIR', help='download the wheels into DIR')
    parser.add_argument('--python-version', default='3.12', help='of the GPU machine')
    parser.add_argument('--platform', default='manylinux2014_x86_64')
    parser.add_argument('--with-opencv', action='store_true',
                        help='also opencv-python-headless (55 MiB) for a machine without cv2')
    parser.add_argument('--dry-run', action='store_true', help='print the pip commands')
    return parser.parse_args(argv)


def install_rows(ctx: Context, folder: str) -> List[Row]:
    """Install the wheels of ``folder``; mmcv without ops when the machine has none."""
    installed = wheels.installed_distributions(ctx.python)
    had_mmcv = 'mmcv' in installed
    proc = wheels.install(ctx, folder, installed)
    done = ctx.details.get('installed', {})
    rows = [Row('install', 'wheels', 'pass' if proc.ok else 'fail',
                f"{len(done.get('site', []))} packages, {len(done.get('build', []))} build tools",
                'offline, next to the machine torch' if proc.ok else proc.error_line())]
    ctx.archive = wheels.mmcv_archive(folder)
    if not had_mmcv and ctx.archive:
        ctx.paths.append(wheels.install_mmcv_lite(ctx.archive, ctx))
        rows.append(Row('install', 'mmcv without ops', 'pass', os.path.basename(ctx.archive),
                        'Python package only; calling an op raises'))
    elif not had_mmcv:
        rows.append(Row('install', 'mmcv without ops', 'fail', '',
                        f'no mmcv source archive in {folder}'))
    return rows


def run_step(ctx: Context, step: steps.Step, selected: Optional[Sequence[str]]) -> List[Row]:
    """One step's rows, or its skipped lines with the reason."""
    if step.gpu and not ctx.cuda:
        return skip_rows(step.name, step.lines, NEEDS_GPU)
    if selected and step.name not in selected and step.name != 'env':
        return skip_rows(step.name, step.lines, 'not selected (--steps)')
    if step.estimate_s > ctx.left():
        return skip_rows(step.name, step.lines, f'~{step.estimate_s:.0f} s needed, '
                         f'{max(ctx.left(), 0):.0f} s of --budget-s left')
    start = time.monotonic()
    try:
        rows = step.fn(ctx)
    except Exception as error:  # a bug or a missing file ends this step only
        rows = [Row(step.name, step.lines[0], 'fail', '', f'{type(error).__name__}: {error}')]
    ctx.details.setdefault('seconds', {})[step.name] = round(time.monotonic() - start, 1)
    return rows


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if args.prepare:
        return wheels.prepare(args.prepare, args.python_version, args.platform,
                              args.with_opencv, args.dry_run)
    ctx = Context(os.path.abspath(args.work_dir), budget_s=args.budget_s)
    os.makedirs(ctx.work_dir, exist_ok=True)
    rows = install_rows(ctx, args.wheels) if args.wheels else []
    for step in STEPS:
        rows += run_step(ctx, step, args.steps)
        if step.name == 'env':
            downstream.start_ops_build(ctx, args.build_ops == 'auto')
        print(format_table([r for r in rows if r.step == step.name], header=False), flush=True)
    device = ctx.facts.get('device') or 'no GPU'
    meta = dict(device=device, host=platform.node(), python=ctx.python,
                seconds=round(time.monotonic() - ctx.start), budget_s=args.budget_s,
                date=time.strftime('%Y-%m-%d %H:%M:%S %Z'), argv=sys.argv[1:])
    out = os.path.join(ctx.work_dir, 'gpu_check.json')
    write_json(out, rows, meta, ctx.details)
    counts = summary(rows)
    print(f'\n== GPU check on {device}, {meta["seconds"]} s ==\n{format_table(rows)}\n'
          + ', '.join(f'{n} {s}' for s, n in counts.items()) + f'\nJSON: {out}')
    return int(counts['fail'] > 0)


if __name__ == '__main__':
    sys.exit(main())
