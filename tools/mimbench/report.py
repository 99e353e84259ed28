"""Ratios and the plain-text table of benchmark records."""
from typing import List, Tuple

from .measure import ceiling_size


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
        return (r['config'], 'FAILED', '', '', '', '', '', '', '', '')
    return (r['config'], 'x'.join(map(str, r['image_size'])), f"{r['images_per_s']:.2f}",
            f"{r['sec_per_iter']:.3f}", _data_time_cell(r), f"{r['peak_mem_mb']:.0f}",
            f"{r['params'] / 1e6:.2f} ({r['params_trainable'] / 1e6:.2f})",
            f"{r['images_per_s_ratio']:.2f}", f"{r['peak_mem_ratio']:.2f}",
            _flop_cell(r))


def _data_time_cell(r: dict) -> str:
    """'data s/iter (x step)' of a ``--pipeline`` run, '-' otherwise."""
    if r.get('data_time') is None:
        return '-'
    return f"{r['data_time']:.3f} ({r['data_time_ratio']:.2f}x)"


def _flop_cell(r: dict) -> str:
    """'GFLOP/step, fraction of the matmul ceiling' or '-' when not counted."""
    if not r.get('flops_per_step'):
        return '-'
    return f"{r['flops_per_step'] / 1e9:.0f} ({r['flop_fraction']:.2f})"


def format_table(results: List[dict]) -> str:
    """A plain-text table, one row per config, then the settings and the failures."""
    header = ('config', 'input', 'images/s', 's/iter', 'data s/iter (x step)', 'peak mem MB',
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
        if r.get('data_time') is not None:
            lines.append('data s/iter: median time to fetch one batch of the train pipeline '
                         'in one process (num_workers=0), before the timed steps; (x step) '
                         'over s/iter: the loader workers a device needs to keep up')
        lines.append(f"batch {r['batch_size']}, {r['iters']} timed iterations after "
                     f"{r['warmup']} warm-up, data: {data}, {r['device']} {r['dtype']}, "
                     f"{r['num_threads']} threads, torch {r['torch_version']}; "
                     + (f"matmul ceiling {r['matmul_ceiling_flops_per_s'] / 1e9:.0f} "
                        f"GFLOP/s ({ceiling_size(r['device'])}^3, same process and precision); "
                        if r.get('matmul_ceiling_flops_per_s') else '') +
                     f"memory: {memory}; ratios vs {r['config']}")
    lines += [f"FAILED {r['config']}: {r['error']}" for r in results if r.get('error')]
    return '\n'.join(lines)
