"""Command line: ``python tools/analysis_tools/benchmark_pretrain.py CONFIG [CONFIG ...] ...``."""
import argparse
import json
import sys
from pathlib import Path
from typing import Optional, Sequence

import torch

from .isolate import run_isolated, worker_main
from .report import add_ratios, format_table

DESCRIPTION = 'Training-step throughput and peak memory of pretraining configs.'


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument('configs', nargs='+', help="config files or 'mmpretrain::path.py'")
    parser.add_argument('--batch-size', type=int, required=True,
                        help="images per step; 0: each config's own per-GPU "
                        'train_dataloader.batch_size')
    parser.add_argument('--iters', type=int, required=True, help='timed iterations')
    parser.add_argument('--warmup', type=int, default=1, help='untimed iterations first')
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision: bf16 on CPU, bf16 (else fp16) on CUDA')
    parser.add_argument('--image-size', type=int, default=None,
                        help='square input size; default: the train pipeline crop, '
                        'else the model img_size')
    parser.add_argument('--pipeline', action='store_true',
                        help="batches made by each config's own train pipeline from the "
                        'demo photographs (before timing), e.g. for algorithms reading a '
                        'mask the pipeline stores; its crop sets the input size')
    parser.add_argument('--no-flops', action='store_true',
                        help='skip the FLOP count (one extra untimed step) and the '
                        'matmul ceiling')
    parser.add_argument('--compile', action='store_true',
                        help="compile model.train_step as mmengine's Runner does for "
                        'compile=True (also taken from a config with compile=True); '
                        'compilation runs in the warm-up steps: use --warmup 2 or more')
    parser.add_argument('--device', choices=('cpu', 'cuda'), default=None,
                        help='default: cuda when available')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--json', default=None, help='write the records to this file')
    parser.add_argument('--cfg-options', nargs='+', default=None,
                        help='key=value overrides applied to every config')
    parser.add_argument('--worker-out', default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.iters < 1 or args.batch_size < 0 or args.warmup < 0:
        parser.error('--iters must be >= 1, --batch-size >= 0, --warmup >= 0')
    if args.pipeline and args.image_size:
        parser.error('--image-size does not apply with --pipeline: the pipeline sets the '
                     'input size (change its crop with --cfg-options)')
    args.device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    """CLI: one fresh process per config; exit status 1 when any config failed."""
    args = parse_args(argv)
    if args.worker_out:
        return worker_main(args)
    results = []
    for i, config in enumerate(args.configs, 1):
        print(f'[{i}/{len(args.configs)}] {config}', file=sys.stderr, flush=True)
        results.append(run_isolated(config, args))
    add_ratios(results)
    print(format_table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return int(any(r.get('error') for r in results))


