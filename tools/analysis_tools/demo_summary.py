"""The end of ``make demo``: what the demo run learned, as a picture and two numbers.

    python tools/analysis_tools/demo_summary.py CONFIG WORK_DIR [--heldout-dir DIR]
        [--train-dir DIR] [--seeds 8]

Writes ``WORK_DIR/reconstruction_demo.png`` (held-out photographs, never trained on,
and a few training ones) from the last checkpoint, and prints its path, the loss at
the start and the end of training, the masked-unit error of the model (nothing
borrowed from the masked units) on the held-out photographs (averaged over ``--seeds``
mask draws) next to three baselines: the visible pixels' mean colour, the visible
pixels interpolated into the masked units (both see only what the model sees), and
each masked unit's own true mean colour (an oracle), and the command that renders more.
"""
import argparse
import sys
from pathlib import Path
from typing import List, Optional

from mmmim.datasets.demo import DEMO_HELDOUT, DEMO_SHOWN_TRAIN, select_photos
from mmmim.visualization import image_size_of, load_batch, load_model
from mmmim.visualization.curves import find_scalar_logs, read_scalars
from mmmim.visualization.reconstruction import model_error, seeded_masked_unit_errors
from mmmim.visualization.render import render_checkpoint

RENDER_TOOL = 'tools/visualization/visualize_reconstruction.py'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('work_dir')
    parser.add_argument('--train-dir', default='data/demo')
    parser.add_argument('--heldout-dir', default=None, help='default: TRAIN_DIR_heldout')
    parser.add_argument('--seeds', type=int, default=8,
                        help='mask draws the held-out error is averaged over')
    return parser.parse_args(argv)


def last_checkpoint(work_dir: Path) -> Path:
    """The checkpoint named in ``WORK_DIR/last_checkpoint`` (MMEngine writes it)."""
    pointer = work_dir / 'last_checkpoint'
    if not pointer.is_file():
        raise FileNotFoundError(f'{pointer} not found: did training finish?')
    path = Path(pointer.read_text().strip())
    return path if path.is_absolute() or path.is_file() else work_dir / path.name


def loss_start_end(work_dir: Path) -> Optional[tuple]:
    """(first logged loss, last logged loss) of the newest run in ``work_dir``."""
    records = [r for r in read_scalars(find_scalar_logs(work_dir)[-1]) if 'loss' in r]
    return (records[0]['loss'], records[-1]['loss']) if records else None


def photo_files(folder: str, names) -> List[Path]:
    return [Path(folder) / p.filename for p in select_photos(names)]


def heldout_errors(model, files: List[Path], size: int, seeds: int) -> dict:
    """Masked-unit errors on ``files`` averaged over ``seeds`` mask draws."""
    batch, _ = load_batch(model, files, size)
    return seeded_masked_unit_errors(model, batch, range(seeds))


CLEARLY_BELOW = 0.8  # "clearly below" a baseline: at most 80% of its error
BASELINES = [
    ('visible_mean', "every masked unit filled with the visible pixels' mean colour"),
    ('interpolation', 'the visible pixels smoothly interpolated into the masked units'),
    ('mean_colour', 'each masked unit filled with its own true mean colour '
                    '(an oracle: it knows what is hidden)'),
]


def error_lines(errors: dict, seeds: int) -> List[str]:
    """The model's masked-unit error next to each baseline's, with the ratios."""
    model_err, how = model_error(errors)
    lines = [f'masked-unit MSE on the held-out photographs ({seeds} mask draws, 0-255 units):',
             f'  model ({how}): {model_err:.1f}']
    for key, what in BASELINES:
        lines.append(f'  {what}: {errors[key]:.1f} (model / this = {model_err / errors[key]:.2f})')
    return lines


def verdict(errors: dict) -> str:
    """One sentence on what the model's error means against the baselines."""
    model_err, _ = model_error(errors)
    if model_err <= CLEARLY_BELOW * errors['mean_colour']:
        return ('the model recovers structure inside the masked units beyond even their '
                'true mean colours')
    if model_err <= CLEARLY_BELOW * errors['interpolation']:
        return ('the model recovers more of the masked units than interpolating the '
                'visible pixels does: edges and colours carried across unit borders')
    if model_err <= CLEARLY_BELOW * errors['visible_mean']:
        return ("the model recovers each region's colour from its visible neighbours "
                '(clearly below the flat visible colour), not more than smooth '
                'interpolation yet; train longer, e.g. --cfg-options train_cfg.max_epochs=2000')
    return ('the model does not clearly beat filling the masked units with the visible '
            'mean colour yet: compare the figure with one drawn before training, or train '
            'longer, e.g. --cfg-options train_cfg.max_epochs=2000')


def main(argv=None) -> int:
    args = parse_args(argv)
    work_dir = Path(args.work_dir)
    heldout_dir = args.heldout_dir or args.train_dir.rstrip('/') + '_heldout'
    checkpoint = last_checkpoint(work_dir)
    files = (photo_files(heldout_dir, DEMO_HELDOUT)
             + photo_files(args.train_dir, DEMO_SHOWN_TRAIN))
    out = work_dir / 'reconstruction_demo.png'
    render_checkpoint(args.config, str(checkpoint), files, str(out), seed=0,
                      extra_header=[f'held out (never trained on): {", ".join(DEMO_HELDOUT)}; '
                                    f'trained on: {", ".join(DEMO_SHOWN_TRAIN)}'])
    cfg, model = load_model(args.config, checkpoint)
    errors = heldout_errors(model, photo_files(heldout_dir, DEMO_HELDOUT),
                            image_size_of(cfg), args.seeds)
    losses = loss_start_end(work_dir)
    print('\n=== demo summary ===')
    print(f'reconstruction figure: {out}')
    if losses:
        print(f'training loss: {losses[0]:.4f} at the start -> {losses[1]:.4f} at the end')
    print('\n'.join(error_lines(errors, args.seeds)))
    print(verdict(errors))
    # the interpreter running this (the project's environment), not a bare `python`
    print('render more images:\n  ' + ' '.join(
        [sys.executable, RENDER_TOOL, args.config, str(checkpoint), 'IMAGE...',
         '--out', 'recon.png']))
    return 0


if __name__ == '__main__':
    sys.exit(main())
