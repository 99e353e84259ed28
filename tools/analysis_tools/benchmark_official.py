"""Ours against the official pretraining codes, side by side, from local checkouts.

    python tools/analysis_tools/benchmark_official.py --ummae-root PATH \
        --localmim-root PATH --mae-root PATH [--pairs NAME ...] [--repeats R] \
        [--batch-size N] [--iters K] [--warmup W] [--amp] [--no-flops] \
        [--device cpu|cuda] [--json OUT]

Each pair runs our config and the official model alternately (A B A B ...), each in a
fresh process, and prints a markdown table of medians and ratios. See
docs/benchmark.md ("Against the official codes"); the logic is in
``mmmim.utils.benchmark.official``.
"""
import sys

from mmmim.utils.benchmark.official import main

if __name__ == '__main__':
    sys.exit(main())
