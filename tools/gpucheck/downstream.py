"""The lines that need mmcv's CUDA ops: RoIAlign and NMS on the GPU (checklist step
0), a tiny Mask R-CNN and UperNet run with --amp (step 7)."""
from __future__ import annotations

from typing import List, Optional

from . import ops_build
from .context import Context, probe, run
from .report import Row, skip_rows
from .steps import MASK_RCNN, UPERNET, dist_train, train_row

OPS_LINES = ('roi_align fp32', 'roi_align fp16', 'roi_align bf16', 'nms')
#: seconds the lines after the ops build need (the ops line, the detection runs)
AFTER_BUILD_S = 130


def start_ops_build(ctx: Context, wanted: bool) -> None:
    """Start building mmcv's CUDA ops for this GPU's arch in the background when the
    GPU needs them and the machine can build them; else say why not."""
    facts = ctx.facts
    if str(facts.get('mmcv_ops', '')).startswith('CUDA'):
        ctx.ops_path, ctx.ops_note = '', f"installed mmcv has {facts['mmcv_ops']} ops"
    elif not wanted:
        ctx.ops_note = 'mmcv CUDA ops: build not asked for (--build-ops no)'
    elif not ctx.cuda:
        ctx.ops_note = 'mmcv CUDA ops: needs GPU'
    elif not facts.get('nvcc'):
        ctx.ops_note = 'mmcv CUDA ops: no nvcc on PATH to build them'
    elif not ctx.archive:
        ctx.ops_note = 'mmcv CUDA ops: no mmcv source archive (give --wheels DIR)'
    elif (facts.get('ops_plan') or {}).get('error'):
        ctx.ops_note = f"mmcv CUDA ops cannot be built: {facts['ops_plan']['error']}"
    else:
        ctx.ops_build = ops_build.start(ctx, ctx.archive, facts['capability'],
                                        facts['torch_include'])
        ctx.ops_note = f"building mmcv CUDA ops for sm {facts['capability']}"


def ensure_ops(ctx: Context) -> Optional[str]:
    """The folder of mmcv with CUDA ops ('' when the installed mmcv has them), waiting
    for the background build while the budget allows; None with ``ctx.ops_note``
    saying why there are none."""
    if ctx.ops_path is not None or ctx.ops_build is None:
        return ctx.ops_path
    build, ctx.ops_build = ctx.ops_build, None
    ctx.ops_path = ops_build.finish(ctx, build, ctx.left() - AFTER_BUILD_S)
    seconds = build.seconds()
    if ctx.ops_path is not None:
        ctx.ops_note = f'built in {seconds:.0f} s'
    elif build.proc.returncode in (None, -9):
        ctx.ops_note = (f'mmcv CUDA ops build not finished after {seconds:.0f} s, inside '
                        f'the time budget (--budget-s); log {build.log}')
    else:
        ctx.ops_note = f'mmcv CUDA ops build failed after {seconds:.0f} s; log {build.log}'
    return ctx.ops_path


def ops_rows(record: dict) -> List[Row]:
    """RoIAlign fp32 / fp16 and NMS must run; bf16 RoIAlign is expected to fail
    (mmcv has no bf16 kernel, finding 2)."""
    rows = []
    for line, key in zip(OPS_LINES, ('roi_align_float32', 'roi_align_float16',
                                     'roi_align_bfloat16', 'nms')):
        result = record[key]
        if key == 'roi_align_bfloat16':
            rows.append(Row('mmcv_ops', line, 'pass' if not result['ok'] else 'figure',
                            'expected fail' if not result['ok'] else 'runs',
                            result.get('error', 'mmcv has a bf16 kernel after all')))
        else:
            rows.append(Row('mmcv_ops', line, 'pass' if result['ok'] else 'fail',
                            result.get('value', ''), result.get('error', '')))
    return rows


def mmcv_ops(ctx: Context) -> List[Row]:
    """The build line, then RoIAlign and NMS on CUDA tensors."""
    path = ensure_ops(ctx)
    ctx.details['mmcv_ops_build'] = ctx.ops_note
    build = Row('mmcv_ops', 'CUDA ops for this GPU', 'figure' if path is not None else 'skip',
                '' if path is None else 'ready', ctx.ops_note)
    if path is None:
        return [build] + skip_rows('mmcv_ops', OPS_LINES, ctx.ops_note)
    record, proc = probe(ctx, 'mmcv_ops', 120, extra_paths=[path] if path else [])
    if record is None:
        return [build, Row('mmcv_ops', 'roi_align / nms', 'fail', '', proc.error_line())]
    return [build] + ops_rows(record)


def tiny_run(ctx: Context, step: str, config: str, paths: List[str]) -> List[Row]:
    """``config`` on the tiny data, 2 iterations + validation, with --amp; a Mask
    R-CNN that fails on bf16 RoIAlign (finding 2) is run again with fp16."""
    name = step.split(' ')[0]
    written = ctx.path(f'tiny_{name}.py')
    record, proc = probe(ctx, 'downstream_config', 120, '--configs', config, '--data',
                         ctx.path('tiny_data'), '--write', written, extra_paths=paths)
    if record is None:
        return [Row('detection', step, 'fail', '', proc.error_line())]
    proc = dist_train(ctx, written, ctx.path(name), [], timeout=240, extra_paths=paths)
    rows = [train_row('detection', f'{step} --amp', proc, ctx.path(name))]
    if not proc.ok and 'BFloat16' in proc.tail:
        proc = dist_train(ctx, written, ctx.path(f'{name}_fp16'),
                          ['optim_wrapper.dtype=float16'], timeout=240, extra_paths=paths)
        rows.append(train_row('detection', f'{step} --amp fp16', proc,
                              ctx.path(f'{name}_fp16')))
    return rows


def detection(ctx: Context) -> List[Row]:
    """Tiny COCO Mask R-CNN (Swin-T) and ADE20K UperNet (Swin-T) through the launcher."""
    lines = ('mask_rcnn swin-t --amp', 'upernet swin-t --amp')
    path = ensure_ops(ctx)
    if path is None:
        return skip_rows('detection', lines, ctx.ops_note)
    paths = [path] if path else []
    made = run([ctx.python, 'tools/dataset_converters/make_tiny_downstream_data.py',
                ctx.path('tiny_data')], 120, ctx.env(paths), log=ctx.path('tiny_data.log'))
    if not made.ok:
        return [Row('detection', 'tiny data', 'fail', '', made.error_line())]
    return (tiny_run(ctx, 'mask_rcnn swin-t', MASK_RCNN, paths)
            + tiny_run(ctx, 'upernet swin-t', UPERNET, paths))
