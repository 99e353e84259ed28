"""The lines about the machine: driver, GPU, torch's CUDA, CPUs, /dev/shm, nvcc, the
OpenMMLab stack (checklist step 0), and the data loader's throughput on its CPUs
(checklist step 5)."""
from __future__ import annotations

from typing import List

from .context import Context, probe
from .report import NEEDS_GPU, Row
from .steps import BENCH_CONFIGS, config_path, ensure_demo_data
from .wheels import pinned

STACK = ('mmengine', 'mmcv', 'mmpretrain', 'mmdet', 'mmseg')


def gpu_rows(r: dict) -> List[Row]:
    """GPU and driver; whether torch runs on it (finding 4: a driver too old for
    torch's CUDA leaves a visible GPU unused, with only a warning)."""
    torch = f"torch {r['torch']} (CUDA {r['torch_cuda']})"
    rows = [Row('env', 'GPU, driver, memory', 'figure' if r['nvidia_smi'] else 'skip',
                r['nvidia_smi'] or '', '' if r['nvidia_smi'] else 'no nvidia-smi')]
    if r['cuda_available']:
        rows += [Row('env', 'torch on the GPU', 'pass', torch,
                     f"{r['device']}, sm {r['capability']}, {r['memory_gb']:.0f} GB"),
                 Row('env', 'bf16 native', 'figure', str(r['bf16_native']))]
    elif r['nvidia_smi']:
        rows.append(Row('env', 'torch on the GPU', 'fail', torch,
                        'a GPU is visible but torch.cuda.is_available() is False: the '
                        'driver is too old for this CUDA (finding 4)'))
    else:
        rows.append(Row('env', 'torch on the GPU', 'skip', torch, NEEDS_GPU))
    return rows


def env(ctx: Context) -> List[Row]:
    """Checklist step 0 without the mmcv ops (they come with the detection lines)."""
    mmcv = pinned(['mmcv'], ['requirements/mmcv.txt'])[0].split('==')[1]
    record, proc = probe(ctx, 'env', 120, '--mmcv', mmcv)
    if record is None:
        return [Row('env', 'torch', 'fail', '', proc.error_line())]
    ctx.facts, ctx.cuda = record, bool(record['cuda_available'])
    shm = record['shm_gb']
    versions = record['versions']
    missing = [name for name in STACK if not versions.get(name)]
    nvcc = [line for line in (record['nvcc'] or '').splitlines() if 'release' in line]
    return gpu_rows(record) + [
        Row('env', 'CPUs, /dev/shm', 'figure',
            f"{record['nproc']} CPUs, /dev/shm {shm:.1f} GB" if shm is not None
            else f"{record['nproc']} CPUs, no /dev/shm", 'loaders need ~1.2 GB per rank'),
        Row('env', 'nvcc', 'figure', nvcc[-1] if nvcc else 'not found',
            'builds mmcv CUDA ops' if nvcc else 'no CUDA ops build'),
        Row('env', 'OpenMMLab stack', 'fail' if missing else 'pass',
            ', '.join(f'{k} {v}' for k, v in versions.items() if v),
            f'missing: {missing} (run with --wheels DIR)' if missing else ''),
        Row('env', 'mmcv ops', 'figure', record['mmcv_ops'],
            'pretraining runs without them'),
    ]


def loader(ctx: Context) -> List[Row]:
    """Images/s of the MAE train pipeline on the demo photographs (an upper bound for
    ImageNet JPEGs) with 8 workers and with all CPUs but one, to hold against the
    bench lines' GPU images/s (finding 7)."""
    prepared = ensure_demo_data(ctx)
    if prepared is not None and not prepared.ok:
        return [Row('loader', 'demo data', 'fail', '', prepared.error_line())]
    nproc = ctx.facts.get('nproc') or 1
    workers = sorted({min(8, nproc), max(1, min(15, nproc - 1))})
    record, proc = probe(ctx, 'loader', 150, '--configs', config_path(BENCH_CONFIGS[0]),
                         '--batch', '256', '--iters', '8',
                         '--workers', *map(str, workers))
    if record is None:
        return [Row('loader', 'MAE pipeline', 'fail', '', proc.error_line())]
    note = 'MAE pipeline, demo photos, batch 256' + (
        '; mmcv build running at nice 19' if ctx.ops_build is not None else '')
    return [Row('loader', f"{n} worker{'' if n == '1' else 's'}", 'figure', f'{ips:.0f} img/s',
                note) for n, ips in record.items()] + gpu_decode(ctx)


def gpu_decode(ctx: Context) -> List[Row]:
    """The GPU-decode mode's device side: images/s of decode + crop + resize + flip of
    a batch of 256 demo JPEGs on the GPU (mmmim.datasets.gpu_decode)."""
    name = 'GPU decode+crop, batch 256'
    if not ctx.cuda:
        return [Row('loader', name, 'skip', '', NEEDS_GPU)]
    record, proc = probe(ctx, 'gpu_decode', 90, '--batch', '256', '--iters', '5',
                         '--device', 'cuda')
    if record is None:
        return [Row('loader', name, 'fail', '', proc.error_line())]
    return [Row('loader', name, 'figure', f"{record['images_per_s']:.0f} img/s",
                f"nvJPEG, demo photos ({record['megapixels']:.2f} MP mean) to 224 px")]
