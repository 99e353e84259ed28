"""Training throughput and peak memory of pretraining configs on real photographs.

    python tools/analysis_tools/benchmark_pretrain.py CONFIG [CONFIG ...] \
        --batch-size N --iters K [--warmup W] [--amp] [--json OUT] [--image-size S] \
        [--device cpu|cuda] [--cfg-options k=v ...]

CONFIG is a file or another package's config (``mmpretrain::mae/xxx.py``); ``--batch-size
0`` runs each config at its own per-GPU ``train_dataloader.batch_size``. Each config
runs in a fresh process; the table compares them to the first. See docs/benchmark.md;
the logic is in ``tools/mimbench``.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tools/: the bench, mimbench
from mimbench import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
