"""ImageNet-like test JPEGs made from scikit-image's bundled colour photographs.

    python tools/dataset_converters/make_imagenet_like.py OUT --num N [--seed S] \
        [--flat] [--only-size 500x375] [--quality 90]

The sizes follow ImageNet's train set: the median image is 500x375 (landscape) or
375x500 (portrait), with a few other common ones, and one image in ten is
multi-megapixel (1600x1200 or 1200x1600); JPEG quality 90, 4:2:0 chroma. Each image is
a random crop (aspect of the target size, 40-100% of the largest such crop) of one of
the photographs, resized (bicubic) to its size, with mild sensor-like noise so the files
are about as large as ImageNet's (a plain upscale compresses far better than a photo).
Images go into one folder per source photograph (``OUT/<photo>/<photo>_<i>.JPEG``: the
ImageFolder layout our configs, mmpretrain and torchvision read), or all in ``OUT``
with ``--flat``. ``--only-size WxH`` writes every image at that size (the
"500x375 alone" set of docs/data_loading.md). Generated, never committed.
"""
import argparse
from pathlib import Path
from typing import List, Sequence, Tuple

import numpy as np

WH = Tuple[int, int]
DESCRIPTION = 'Write ImageNet-like test JPEGs from scikit-image photographs.'
#: The colour photographs of ``skimage.data`` used as sources.
SOURCE_PHOTOS = ('astronaut', 'chelsea', 'coffee', 'rocket', 'stereo_motorcycle',
                 'hubble_deep_field', 'immunohistochemistry', 'retina')
#: One image in ten is multi-megapixel: (w, h) and its share of those.
LARGE_SIZES = (((1600, 1200), 0.7), ((1200, 1600), 0.3))
LARGE_FRACTION = 0.1
#: The other nine in ten: ImageNet's common sizes (w, h) and their shares, so the
#: median is 500x375 (landscape) or 375x500 (portrait), both 187,500 pixels.
COMMON_SIZES = (((500, 375), 0.55), ((375, 500), 0.2), ((500, 333), 0.1),
                ((500, 500), 0.1), ((333, 500), 0.05))
NOISE_SIGMA = 5.0  # grey levels of the added noise


def parse_wh(text: str) -> WH:
    """``'500x375'`` -> ``(500, 375)`` (width x height)."""
    try:
        w, h = (int(v) for v in text.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected WIDTHxHEIGHT, got {text!r}') from None
    if w < 1 or h < 1:
        raise argparse.ArgumentTypeError(f'sizes must be positive, got {text!r}')
    return w, h


def _allocate(num: int, shares: Sequence[Tuple[WH, float]]) -> List[WH]:
    """``num`` sizes in the given shares (largest remainders), in table order."""
    exact = [share * num for _, share in shares]
    counts = [int(e) for e in exact]
    by_remainder = sorted(range(len(shares)), key=lambda i: exact[i] - counts[i], reverse=True)
    for i in by_remainder[:num - sum(counts)]:
        counts[i] += 1
    return [size for (size, _), count in zip(shares, counts) for _ in range(count)]


def image_sizes(num: int, seed: int = 0, only_size: WH = None) -> List[WH]:
    """The ``(w, h)`` of ``num`` images: ``round(num / 10)`` multi-megapixel, the rest
    of :data:`COMMON_SIZES` in their shares, shuffled by ``seed`` (all ``only_size``
    when given)."""
    if only_size:
        return [tuple(only_size)] * num
    num_large = round(num * LARGE_FRACTION)
    sizes = _allocate(num_large, LARGE_SIZES) + _allocate(num - num_large, COMMON_SIZES)
    order = np.random.default_rng(seed).permutation(num)
    return [sizes[i] for i in order]


def load_photo(name: str):
    """A scikit-image photograph as an RGB PIL image."""
    from PIL import Image
    from skimage import data
    image = getattr(data, name)()
    image = image[0] if isinstance(image, tuple) else image
    return Image.fromarray(image).convert('RGB')


def random_view(photo, size: WH, rng: np.random.Generator):
    """A random crop of ``photo`` with the aspect of ``size`` (40-100% of the largest
    such crop's side), resized to ``size`` (bicubic), with Gaussian noise."""
    from PIL import Image
    w, h = size
    fit = min(photo.width / w, photo.height / h)
    scale = fit * rng.uniform(0.4, 1.0)
    cw, ch = max(1, round(w * scale)), max(1, round(h * scale))
    left = int(rng.integers(0, photo.width - cw + 1))
    top = int(rng.integers(0, photo.height - ch + 1))
    if rng.random() < 0.5:
        photo = photo.transpose(Image.FLIP_LEFT_RIGHT)
    view = photo.resize((w, h), Image.BICUBIC, box=(left, top, left + cw, top + ch))
    noisy = np.asarray(view, dtype=np.float32) + rng.normal(0, NOISE_SIGMA, (h, w, 3))
    return Image.fromarray(np.clip(noisy + 0.5, 0, 255).astype(np.uint8))


def write_images(out: str, num: int, seed: int = 0, flat: bool = False,
                 only_size: WH = None, quality: int = 90) -> List[Path]:
    """Write ``num`` ImageNet-like JPEGs under ``out`` (see the module docstring) and
    return their paths in order of writing."""
    rng = np.random.default_rng(seed)
    photos = {name: load_photo(name) for name in SOURCE_PHOTOS}
    root = Path(out)
    paths = []
    for i, size in enumerate(image_sizes(num, seed, only_size)):
        name = SOURCE_PHOTOS[i % len(SOURCE_PHOTOS)]
        folder = root if flat else root / name
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f'{name}_{i:06d}.JPEG'
        random_view(photos[name], size, rng).save(path, 'JPEG', quality=quality)
        paths.append(path)
    return paths


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument('out', help='output folder')
    parser.add_argument('--num', type=int, required=True, help='number of images')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--flat', action='store_true',
                        help='all images in OUT (default: one class folder per photograph)')
    parser.add_argument('--only-size', type=parse_wh, default=None, metavar='WxH',
                        help='every image at this size, e.g. 500x375')
    parser.add_argument('--quality', type=int, default=90, help='JPEG quality')
    args = parser.parse_args(argv)
    if args.num < 1:
        parser.error('--num must be >= 1')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    paths = write_images(args.out, args.num, args.seed, args.flat, args.only_size,
                         args.quality)
    megabytes = sum(p.stat().st_size for p in paths) / 2**20
    print(f'wrote {len(paths)} JPEGs ({megabytes:.1f} MB) under {args.out}')
    return 0


