"""Write ImageNet-like test JPEGs made from scikit-image's bundled colour photographs.

    python tools/dataset_converters/make_imagenet_like.py OUT --num N [--seed S] \
        [--flat] [--only-size 500x375] [--quality 90]

Median 500x375 / 375x500, one in ten 1600x1200 (or portrait), JPEG quality 90, in one
class folder per photograph (ImageFolder layout) or flat. See docs/data_loading.md;
the logic is in ``tools/mimbench/imagenet_like.py``.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tools/: the bench, mimbench
from mimbench.imagenet_like import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
