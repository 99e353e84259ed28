"""Reconstruction figure of a pretraining checkpoint, for every kind of target.

    python tools/visualization/visualize_reconstruction.py CONFIG CHECKPOINT IMAGE [IMAGE ...]
        [--out recon.png] [--seed 0] [--image-size S] [--zoom Z]

Pixel targets (MAE, UM-MAE, SimMIM): per image original | masked input (grey =
masked; blue tint = UM-MAE's secondary-masked units) | reconstruction | reconstruction
with the visible units pasted back, for a per-patch normalized target both with the
true patch statistics (borrowed from the image, as MAE's figures) and with none
borrowed. PixMIM: its low-pass target beside the raw image, and the reconstruction of
the low-pass target. LocalMIM / HOG targets: every level's target beside its
prediction at the level's own scale (HOG as orientation glyphs). The figure states
the config, checkpoint, mask seed and what was borrowed; the masked-unit errors are
printed.
"""
import argparse
import sys

from mmmim.visualization.render import render_checkpoint


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint', help="a pretraining checkpoint ('none': random weights)")
    parser.add_argument('images', nargs='+')
    parser.add_argument('--out', default='reconstruction.png')
    parser.add_argument('--image-size', type=int, default=None,
                        help='square input size; default: the encoder img_size')
    parser.add_argument('--seed', type=int, default=0, help='seed of the mask draw')
    parser.add_argument('--zoom', type=int, default=None,
                        help='panel magnification (default 2 below 160 px, else 1)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    checkpoint = None if args.checkpoint == 'none' else args.checkpoint
    figure = render_checkpoint(args.config, checkpoint, args.images, args.out, args.seed,
                               args.image_size, args.zoom)
    print(f'wrote {args.out} ({figure.image.shape[1]}x{figure.image.shape[0]}): '
          f'{figure.borrowed}')
    for name, errors in figure.errors.items():
        print(f'  {name}: masked-unit MSE ' + ', '.join(
            f'{k} {v:.1f}' for k, v in errors.items() if v is not None))
    return 0


if __name__ == '__main__':
    sys.exit(main())
