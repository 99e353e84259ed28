"""Seconds per iteration and peak memory of full-size training iterations of a
downstream (mmdet / mmseg) config, in a fresh process, on batches that the config's
own dataloader makes from the tiny scikit-image datasets.

    python tools/analysis_tools/benchmark_downstream.py CONFIG [--batch N] [--iters N] \
        [--warmup N] [--cfg-options k=v ...] [--json OUT]

The logic is in ``tools/mimbench/downstream.py``; figures in docs/downstream.md.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tools/: the bench, mimbench
from mimbench.downstream import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
