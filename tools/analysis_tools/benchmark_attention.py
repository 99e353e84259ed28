"""Fused vs explicit attention at the pretraining models' shapes, fp32 and bf16 autocast.

    python tools/analysis_tools/benchmark_attention.py [--runs N] [--threads T]

For each shape (batch, heads, queries, keys, head dim of one attention call in our
configs at their benchmark batch) it times forward + backward of the q/k/v
projection (a Linear, as in the blocks) followed by torch's fused
``F.scaled_dot_product_attention`` or the explicit product
(:func:`mmmim.models.fast_blocks.explicit_attention`), and prints the median
milliseconds and the megabytes the attention call keeps for the backward pass.
:func:`mmmim.models.fast_blocks.attention` picks the explicit product for half
precision on the CPU up to ``EXPLICIT_MAX_KEYS`` keys from these figures; run this
on another machine to see whether its CPU agrees. See docs/benchmark.md.
"""
import argparse
import statistics
import sys
import time

import torch
import torch.nn.functional as F

from mmmim.models.fast_blocks import EXPLICIT_MAX_KEYS, explicit_attention

# name: (batch, heads, queries, keys, head dim)
SHAPES = {
    'MAE ViT-B encoder (b16, 50 tokens)': (16, 12, 50, 50, 64),
    'MAE ViT-B decoder (b16, 197 tokens)': (16, 16, 197, 197, 32),
    'UM-MAE decoder (b8, 256 tokens)': (8, 16, 256, 256, 32),
    'PVT-S stage 1, compact (b8, 1024 q, 64 k)': (8, 1, 1024, 64, 64),
    'PVT-S stage 2, compact (b8, 256 q, 64 k)': (8, 2, 256, 64, 64),
    'PVT-S stage 3, compact (b8, 64 tokens)': (8, 5, 64, 64, 64),
    'SimMIM PVT-S stage 1, full grid (b8, 4096 q, 64 k)': (8, 1, 4096, 64, 64),
}
KERNELS = {'fused': F.scaled_dot_product_attention, 'explicit': explicit_attention}


class SavedBytes:
    """Counts the bytes of the distinct storages autograd saves inside the block."""

    def __init__(self):
        self.storages = {}

    def pack(self, tensor):
        storage = tensor.untyped_storage()
        self.storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    def __enter__(self):
        self.hooks = torch.autograd.graph.saved_tensors_hooks(self.pack, lambda t: t)
        self.hooks.__enter__()
        return self

    def __exit__(self, *exc):
        self.hooks.__exit__(*exc)

    @property
    def megabytes(self) -> float:
        return sum(self.storages.values()) / 2**20


def time_call(kernel, shape, dtype, runs: int):
    """(median ms of forward + backward: Linear q/k/v projection then ``kernel``,
    MB saved for the backward pass by ``kernel`` itself)."""
    b, h, n, m, d = shape
    proj_q, proj_kv = torch.nn.Linear(h * d, h * d), torch.nn.Linear(h * d, 2 * h * d)
    xq = torch.randn(b, n, h * d, requires_grad=True)
    xkv = torch.randn(b, m, h * d, requires_grad=True)
    times = []
    for _ in range(runs + 1):
        start = time.perf_counter()
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=dtype is not None):
            q = proj_q(xq).view(b, n, h, d).transpose(1, 2)
            k, v = proj_kv(xkv).view(b, m, 2, h, d).permute(2, 0, 3, 1, 4)
            with SavedBytes() as saved:
                out = kernel(q, k, v)
        out.float().square().mean().backward()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times[1:]), saved.megabytes


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--runs', type=int, default=7, help='timed runs per cell (median)')
    parser.add_argument('--threads', type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, median of '
          f'{args.runs} runs, forward + backward incl. the q/k/v Linears, ms '
          f'(MB the attention keeps for the backward pass); explicit is used for bf16 '
          f'up to {EXPLICIT_MAX_KEYS} keys')
    columns = [f'{dtype} {kernel}' for dtype in ('fp32', 'bf16') for kernel in KERNELS]
    print('| shape (batch, heads, queries, keys, dim) | ' + ' | '.join(columns)
          + ' | bf16 fused / explicit |')
    print('|---|' + '---|' * (len(columns) + 1))
    for name, shape in SHAPES.items():
        cells = {(dtype, kernel): time_call(fn, shape, dtype, args.runs)
                 for dtype in (None, torch.bfloat16) for kernel, fn in KERNELS.items()}
        ratio = cells[(torch.bfloat16, 'fused')][0] / cells[(torch.bfloat16, 'explicit')][0]
        print(f'| {name} {shape} | '
              + ' | '.join(f'{ms:.1f} ({mb:.0f})' for ms, mb in cells.values())
              + f' | {ratio:.2f}x |', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
