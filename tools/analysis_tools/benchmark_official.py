"""Ours against the official pretraining codes, side by side, from local checkouts.

    python tools/analysis_tools/benchmark_official.py --ummae-root PATH \
        --localmim-root PATH --mae-root PATH [--pairs NAME ...] [--repeats R] \
        [--batch-size N] [--iters K] [--warmup W] [--amp] [--no-flops] \
        [--device cpu|cuda] [--json OUT]

Each pair runs our config and the official model alternately (A B A B ...), each in a
fresh process, and prints a markdown table of medians and ratios. See
docs/benchmark.md ("Against the official codes"); the logic is in
``tools/mimbench/official.py``.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tools/: the bench, mimbench
from mimbench.official import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
