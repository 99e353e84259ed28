"""PixMIM's low-pass target with the magnitude (the paper's) vs the real part of the
inverse FFT, on scikit-image's photographs: measured gap and an optional figure.

    python tools/experiments/lowpass_outputs.py [--size 224] [--figure docs/lowpass.png]

For each photograph (ImageNet statistics, radius 40 at 224 px, per-patch normalized
16-px targets as PixMIM-on-MAE) it prints the share of pixels where the low-pass
image goes negative in raw pixel space (where the two outputs differ), and the gap
of the normalized targets: RMS of (magnitude - real) over the RMS of the real-part
target (which is ~1 per patch), over all patches and over the patches that hold a
negative lobe. ``--figure`` writes, per photograph, a row of original | real part |
magnitude | 10 x |difference| (raw space, 0-255) as one PNG.
"""
import argparse
from typing import Dict, List

import numpy as np
import torch

MEAN, STD = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]
DARK = ('retina', 'hubble_deep_field', 'astronaut', 'coffee')
BRIGHT = ('chelsea', 'rocket', 'immunohistochemistry', 'coins')


def photographs(names, size: int) -> torch.Tensor:
    """``[N, 3, size, size]`` raw RGB (0-255) from scikit-image, resized."""
    from PIL import Image
    from skimage import data
    arrays = [np.asarray(Image.fromarray(getattr(data, n)()).convert('RGB')
                         .resize((size, size), Image.BICUBIC)) for n in names]
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float()


def filters():
    """The two filters, bound to ImageNet's statistics."""
    from mmmim.models.targets import LowPassFilter
    out = {}
    for output in ('real', 'magnitude'):
        f = LowPassFilter(radius=40, reference_size=224, output=output)
        f.bind_normalization(torch.tensor(MEAN).view(3, 1, 1), torch.tensor(STD).view(3, 1, 1))
        out[output] = f
    return out


def measure(raw: torch.Tensor, patch: int = 16) -> List[Dict[str, float]]:
    """Per image: negative share, min of the real low-pass (raw space) and the
    normalized-target gap (all patches / patches with a negative lobe)."""
    from mmmim.models.targets import PixelTarget
    from mmmim.models.utils import patchify
    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
    x = (raw - mean) / std
    f = filters()
    low_real = f['real'](x) * std + mean                          # raw space
    targets = {k: PixelTarget(patch_size=patch, filters=[v])(x) for k, v in f.items()}
    gap = targets['magnitude'] - targets['real']                   # [N, L, D]
    negative = patchify((low_real < 0).float(), patch).amax(-1) > 0  # [N, L]
    rows = []
    for i in range(len(raw)):
        ref = targets['real'][i].pow(2).mean().sqrt()
        rel = gap[i].pow(2).mean(-1).sqrt() / ref                  # [L] per patch
        rows.append(dict(negative=float((low_real[i] < 0).float().mean()),
                         minimum=float(low_real[i].min()),
                         gap_all=float(gap[i].pow(2).mean().sqrt() / ref),
                         gap_lobes=float(rel[negative[i]].pow(2).mean().sqrt())
                         if negative[i].any() else 0.,
                         lobe_patches=float(negative[i].float().mean())))
    return rows


def batch_gap(raw: torch.Tensor, patch: int = 16) -> float:
    """Normalized-target gap over a whole batch: RMS(mag - real) / RMS(real)."""
    from mmmim.models.targets import PixelTarget
    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
    x = (raw - mean) / std
    t = {k: PixelTarget(patch_size=patch, filters=[v])(x) for k, v in filters().items()}
    return float((t['magnitude'] - t['real']).pow(2).mean().sqrt() / t['real'].pow(2).mean().sqrt())


def figure(raw: torch.Tensor, path: str) -> None:
    """Rows of original | real | magnitude | 10 x |difference|, raw space, as a PNG."""
    from PIL import Image
    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
    x = (raw - mean) / std
    f = filters()
    real, mag = (f[k](x) * std + mean for k in ('real', 'magnitude'))
    panels = torch.cat([raw, real, mag, 10 * (mag - real).abs()], dim=3)    # [N, 3, S, 4S]
    grid = panels.clamp(0, 255).permute(0, 2, 3, 1).reshape(-1, panels.shape[3], 3)
    Image.fromarray(grid.round().byte().numpy()).save(path, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--size', type=int, default=224)
    parser.add_argument('--figure', help='write the comparison PNG here')
    parser.add_argument('--figure-size', type=int, default=96, help='panel side of the PNG')
    args = parser.parse_args()
    for label, names in (('dark-background', DARK), ('bright', BRIGHT)):
        raw = photographs(names, args.size)
        for name, row in zip(names, measure(raw)):
            print(f'{name:22s} negative low-pass pixels {row["negative"]:.2%} (min '
                  f'{row["minimum"]:.1f}), patches with a lobe {row["lobe_patches"]:.1%}; '
                  f'target gap all patches {row["gap_all"]:.2%}, lobe patches '
                  f'{row["gap_lobes"]:.2%}')
        print(f'{label} batch {names}: normalized-target gap {batch_gap(raw):.2%} '
              'of the real-part target RMS')
    if args.figure:
        figure(photographs(DARK[:2] + BRIGHT[:1], args.figure_size), args.figure)
        print(f'figure written to {args.figure}')


if __name__ == '__main__':
    main()
