"""Fused vs explicit attention at the pretraining models' shapes, fp32 and bf16 autocast.

    python tools/experiments/benchmark_attention.py [--runs N] [--threads T] [--swin]

For each shape (batch, heads, queries, keys, head dim of one attention call in our
configs at their benchmark batch) it times forward + backward of the q/k/v
projection (a Linear, as in the blocks) followed by torch's fused
``F.scaled_dot_product_attention`` or the explicit product
(:func:`mmmim.models.fast_blocks.explicit_attention`), and prints the median
milliseconds and the megabytes the attention call keeps for the backward pass.
:func:`mmmim.models.fast_blocks.attention` picks the explicit product for half
precision on the CPU up to ``EXPLICIT_MAX_KEYS`` keys from these figures; run this
on another machine to see whether its CPU agrees.

``--swin`` times instead a Swin-T stage-1 block pair (window, then shifted window;
mmpretrain's ``SwinBlock`` with mmmim's forwards) at the UM-MAE compact and the
SimMIM w16 full-grid shapes, forward + backward, three ways in alternation: this
device's branch with cached window layouts ('explicit' on the CPU), the same with the
layouts rebuilt in every forward (the code before they were cached), and the CUDA
branch forced ('fused': ``F.scaled_dot_product_attention`` with the bias as mask).
See docs/benchmark.md.
"""
import argparse
import contextlib
import statistics
import sys
import time
from unittest import mock

import torch
import torch.nn.functional as F

from mmmim.models import fast_blocks  # first: mmmim's stack shims, then mmpretrain
from mmmim.models.fast_blocks import EXPLICIT_MAX_KEYS, explicit_attention, use_fast_forward

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
# name: (batch, (H, W) tokens, dims, heads, window) of a Swin-T stage 1
SWIN_SHAPES = {
    'UM-MAE Swin-T w8, compact (b8, 32x32 tokens)': (8, (32, 32), 96, 3, 8),
    'SimMIM Swin-T w16, full grid (b2, 64x64 tokens)': (2, (64, 64), 96, 3, 16),
}
SWIN_VARIANTS = ('explicit', 'layouts rebuilt', 'fused')


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


def swin_pair(dims: int, heads: int, window: int) -> torch.nn.Sequential:
    """mmpretrain's window and shifted-window ``SwinBlock`` with mmmim's forwards."""
    from mmpretrain.models.backbones.swin_transformer import SwinBlock
    return torch.nn.Sequential(*(use_fast_forward(SwinBlock(dims, heads, window, shift=shift))
                                 for shift in (False, True)))


def swin_variant(blocks: torch.nn.Sequential, variant: str):
    """A context in which ``blocks`` run ``variant`` of :data:`SWIN_VARIANTS`."""
    if variant == 'fused':
        return mock.patch.object(fast_blocks, 'fused_window_attention_on', lambda x: True)
    patches = contextlib.ExitStack()
    if variant == 'layouts rebuilt':
        for block in blocks:
            patches.enter_context(mock.patch.object(
                block.attn, 'window_layout', lambda *a: fast_blocks.shifted_window_layout(*a)))
    return patches


def time_swin(shape, dtype, runs: int) -> dict:
    """Median ms of forward + backward of a :func:`swin_pair` per variant, the variants
    alternating run by run (same load for each)."""
    b, hw, dims, heads, window = shape
    blocks = swin_pair(dims, heads, window)
    x = torch.randn(b, hw[0] * hw[1], dims, requires_grad=True)
    times = {variant: [] for variant in SWIN_VARIANTS}
    for _ in range(runs + 1):
        for variant in SWIN_VARIANTS:
            with swin_variant(blocks, variant):
                start = time.perf_counter()
                with torch.autocast('cpu', dtype=torch.bfloat16, enabled=dtype is not None):
                    out = blocks[1](blocks[0](x, hw), hw)
                out.float().square().mean().backward()
                times[variant].append(time.perf_counter() - start)
    return {variant: 1e3 * statistics.median(t[1:]) for variant, t in times.items()}


def swin_table(runs: int) -> None:
    print('| Swin-T stage 1, window + shifted block, ms | '
          + ' | '.join(f'{dtype} {v}' for dtype in ('fp32', 'bf16') for v in SWIN_VARIANTS)
          + ' |')
    print('|---|' + '---|' * 2 * len(SWIN_VARIANTS))
    for name, shape in SWIN_SHAPES.items():
        cells = [ms for dtype in (None, torch.bfloat16)
                 for ms in time_swin(shape, dtype, runs).values()]
        print(f'| {name} | ' + ' | '.join(f'{ms:.1f}' for ms in cells) + ' |', flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--runs', type=int, default=7, help='timed runs per cell (median)')
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument('--swin', action='store_true',
                        help='time Swin window attention blocks instead (see above)')
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.swin:
        print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, median of '
              f'{args.runs} alternating runs, forward + backward')
        swin_table(args.runs)
        return 0
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
