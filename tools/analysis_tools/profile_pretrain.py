"""Where a pretraining step spends its time: torch.profiler over a few train steps.

    python tools/analysis_tools/profile_pretrain.py CONFIG --batch-size N \
        [--steps K] [--warmup W] [--amp] [--top T] [--image-size S] \
        [--callers aten::copy_ ...] [--cfg-options k=v ...] [--trace OUT.json]
    python tools/analysis_tools/profile_pretrain.py --official NAME --root PATH \
        --batch-size N [same options]

The model, optimizer wrapper (at the benchmark's precision: fp32, or ``--amp``: bf16
autocast on CPU) and batch are built exactly as ``benchmark_pretrain.py`` builds them
(``tools/mimbench``). After ``W`` untimed steps, ``K`` train steps run under
``torch.profiler`` (CPU activities); the table lists the top operators by self CPU
time with their share of the profiled wall time, then groups of operators (attention,
matmul, softmax, normalization, activation, copies / layout, gathers / scatters,
optimizer step). ``--official NAME --root PATH`` profiles an official model of
``benchmark_official.py`` (its names, e.g. ``ummae_pvt_small_256``) from a local
checkout instead, its step built exactly as that benchmark builds it. See
docs/benchmark_log.md ("Where the time goes").
"""
import argparse
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from mmmim.config_loading import (
    build_model_from_cfg,
    config_scope,
    load_config,
    parse_cfg_options,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tools/: the bench, mimbench
from mimbench.config import input_size  # noqa: E402
from mimbench.data import pack_batch, photo_batch  # noqa: E402
from mimbench.official import OFFICIAL_MODELS, build_official  # noqa: E402
from mimbench.precision import amp_dtype, build_benchmark_optim_wrapper  # noqa: E402

# operator name pattern -> group; the first match wins
GROUPS = (
    ('attention', r'scaled_dot_product|_flash_attention|_efficient_attention|'
                  r'multi_head_attention|_native_multi_head'),
    ('matmul / linear / conv', r'aten::(mm|bmm|addmm|matmul|linear|baddbmm|addbmm|'
                               r'convolution|_convolution|mkldnn_convolution|conv\d?d|'
                               r'_mkldnn|mkldnn_)'),
    ('softmax', r'softmax'),
    ('normalization', r'layer_norm|group_norm|batch_norm'),
    ('activation', r'gelu|relu|silu'),
    ('gathers / scatters / index', r'index|gather|scatter|masked_|nonzero|where|'
                                   r'roll|repeat_interleave'),
    ('copies / layout', r'aten::(copy_|contiguous|clone|_to_copy|to|cat|stack|'
                        r'permute|transpose|reshape|view|expand|_unsafe_view|t|'
                        r'unfold|pad|constant_pad_nd|empty_like|zeros?|fill_)$'),
    ('optimizer step', r'_foreach|_fused_adam|adam|Optimizer\.step|addcdiv|addcmul|lerp|'
                       r'sqrt'),
    ('pooling / resize', r'pool|upsample|interpolate|grid_sampler'),
    ('element-wise', r'aten::(add|mul|sub|div|neg|exp|pow|sum|mean|abs|sign|rsub|'
                     r'add_|mul_|sub_|div_|ne|eq|gt|lt|ge|le|clamp|bernoulli|rand.*)$'),
)


def group_of(name: str) -> str:
    for group, pattern in GROUPS:
        if re.search(pattern, name):
            return group
    return 'other'


def build_ours(args):
    """``step(i)``: one training step of the config's model, optimizer wrapper and
    batch, built as the benchmark builds them."""
    cfg = load_config(args.config, parse_cfg_options(args.cfg_options))
    with config_scope(cfg):
        dtype = amp_dtype('cpu') if args.amp else None
        torch.manual_seed(args.seed)
        model = build_model_from_cfg(cfg).train()
        wrapper = build_benchmark_optim_wrapper(model, cfg, dtype, 'cpu')
        wrapper.initialize_count_status(model, 0, args.warmup + args.steps)
        batch = pack_batch(cfg, photo_batch(args.batch_size, input_size(cfg, args.image_size)))
    return lambda i: float(model.train_step(dict(batch), wrapper)['loss'])


def build_theirs(args):
    """``step(i)``: one training step of the official model, as benchmark_official.py
    times it."""
    return build_official(args.official, args.root, args.batch_size,
                          args.warmup + args.steps, args.amp, 'cpu', args.seed).step


def report(prof, wall: float, steps: int, top: int) -> None:
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    events.sort(key=lambda e: e.self_cpu_time_total, reverse=True)
    total_us = wall * 1e6
    print(f'profiled {steps} steps, {wall / steps:.3f} s/step (wall, with profiler)')
    print(f'{"operator":48s} {"calls/step":>10s} {"self ms/step":>12s} {"% of step":>9s}')
    for e in events[:top]:
        print(f'{e.key[:48]:48s} {e.count / steps:10.1f} '
              f'{e.self_cpu_time_total / 1e3 / steps:12.1f} '
              f'{100 * e.self_cpu_time_total / total_us:8.1f}%')
    groups = defaultdict(float)
    for e in events:
        groups[group_of(e.key)] += e.self_cpu_time_total
    print(f'\n{"group (self CPU time)":48s} {"ms/step":>10s} {"% of step":>9s}')
    for group, us in sorted(groups.items(), key=lambda kv: -kv[1]):
        print(f'{group:48s} {us / 1e3 / steps:10.1f} {100 * us / total_us:8.1f}%')
    spans = [e for e in events if e.key.startswith(('Optimizer.step', 'Optimizer.zero_grad'))]
    print(f'\n{"span (CPU time incl. its operators)":48s} {"ms/step":>10s} {"% of step":>9s}')
    for e in spans:
        print(f'{e.key[:48]:48s} {e.cpu_time_total / 1e3 / steps:10.1f} '
              f'{100 * e.cpu_time_total / total_us:8.1f}%')


def callers_of(prof, name: str, depth: int = 3) -> list:
    """Self CPU time of operator ``name``, summed by the chain of its ``depth`` nearest
    enclosing operators (which call produced the copies, the fills, ...)."""
    by_caller = defaultdict(float)
    for event in prof.events():
        if event.name != name:
            continue
        chain, parent = [], event.cpu_parent
        while parent is not None and len(chain) < depth:
            chain.append(parent.name)
            parent = parent.cpu_parent
        by_caller[' < '.join(chain) or '(top level)'] += event.self_cpu_time_total
    return sorted(by_caller.items(), key=lambda kv: -kv[1])


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', nargs='?', default=None)
    parser.add_argument('--official', default=None, choices=sorted(OFFICIAL_MODELS),
                        help="an official model of benchmark_official.py instead of CONFIG")
    parser.add_argument('--root', default=None, metavar='PATH',
                        help='the local checkout of the official model')
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument('--steps', type=int, default=2, help='profiled train steps')
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--amp', action='store_true', help='bf16 autocast forward (CPU)')
    parser.add_argument('--image-size', type=int, default=None)
    parser.add_argument('--top', type=int, default=25)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--trace', default=None, help='also write a Chrome trace')
    parser.add_argument('--callers', nargs='+', default=None,
                        help='operators whose time to break down by caller, e.g. aten::copy_')
    parser.add_argument('--cfg-options', nargs='+', default=None)
    args = parser.parse_args(argv)
    if (args.config is None) == (args.official is None):
        parser.error('give a CONFIG or --official NAME (with --root PATH), not both')
    if args.official and not args.root:
        parser.error('--official needs --root PATH (a local checkout)')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    step = build_theirs(args) if args.official else build_ours(args)
    for i in range(args.warmup):
        step(i)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        for i in range(args.warmup, args.warmup + args.steps):
            step(i)
        wall = time.perf_counter() - start
    what = f'{args.official} ({args.root})' if args.official else args.config
    print(f'{what} batch {args.batch_size} {"bf16 autocast" if args.amp else "fp32"} '
          f'threads {torch.get_num_threads()} torch {torch.__version__}')
    report(prof, wall, args.steps, args.top)
    for name in args.callers or ():
        print(f'\ncallers of {name} (self CPU ms/step by the nearest enclosing operators)')
        for caller, us in callers_of(prof, name)[:args.top]:
            print(f'  {caller[:70]:70s} {us / 1e3 / args.steps:10.1f}')
    if args.trace:
        prof.export_chrome_trace(args.trace)
    return 0


if __name__ == '__main__':
    sys.exit(main())
