"""Images/s and ms per image (read / decode / crop+resize / pack) of a config's train
pipeline, mmpretrain's pipeline for it and the official MAE torchvision pipeline.

    python tools/analysis_tools/benchmark_dataloader.py CONFIG [CONFIG ...] \
        [--data DIR] [--workers N] [--iters K] [--rounds R] [--json OUT]

Same files for all three, a fresh process per run, medians of alternating rounds,
ratios ours / mmpretrain and ours / official. Without ``--data``, 120 ImageNet-like
JPEGs are generated (tools/dataset_converters/make_imagenet_like.py). See
docs/data_loading.md; the logic is in ``tools/mimbench/dataloader.py``.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tools/: the bench, mimbench
from mimbench.dataloader import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
