"""Curves of MMEngine's scalar logs: loss and per-group learning rate, several runs on
one plot.

    python tools/analysis_tools/analyze_logs.py plot_curve WORK_DIR_OR_JSON [...]
        [--keys loss lr] [--legend NAME ...] [--out curves.png]

Each argument is a work dir (every run in it, ``<timestamp>/vis_data/scalars.json``)
or one ``scalars.json``. One plot per key; a key also plots its per-group variants
(``lr`` -> ``lr_depth<d>`` / ``lr_group<i>`` of ParamGroupLrHook). The lr axis is
logarithmic.
"""
import argparse
import sys
from pathlib import Path

from PIL import Image

from mmmim.visualization.curves import find_scalar_logs, plot_series, read_scalars, series_of


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='command', required=True)
    plot = sub.add_parser('plot_curve', help='plot keys of one or more runs')
    plot.add_argument('logs', nargs='+', help='work dirs or scalars.json files')
    plot.add_argument('--keys', nargs='+', default=['loss'])
    plot.add_argument('--legend', nargs='+', default=None, help='one name per run')
    plot.add_argument('--out', default='curves.png')
    return parser.parse_args(argv)


def runs_of(logs, legend=None):
    """``[(name, records)]``: every scalar log of every argument."""
    files = [f for log in logs for f in find_scalar_logs(log)]
    if legend is not None and len(legend) != len(files):
        raise SystemExit(f'error: --legend has {len(legend)} names for {len(files)} runs: '
                         + ', '.join(map(str, files)))
    names = legend or [_run_name(f, len(files)) for f in files]
    return [(name, read_scalars(f)) for name, f in zip(names, files)]


def _run_name(path: Path, count: int) -> str:
    """``work_dir/timestamp`` for a work dir's log, the path otherwise."""
    if path.parent.name == 'vis_data':
        run = path.parent.parent
        return f'{run.parent.name}/{run.name}' if count > 1 else run.parent.name
    return str(path)


def plot_curve(args) -> str:
    runs = runs_of(args.logs, args.legend)
    panels = []
    for key in args.keys:
        series = {}
        for name, records in runs:
            for label, points in series_of(records, key).items():
                series[f'{name}: {label}' if len(runs) > 1 else label] = points
        if not series:
            raise SystemExit(f'error: key {key!r} is in none of the logs; keys there: '
                             + ', '.join(sorted({k for _, rs in runs for r in rs for k in r})))
        panels.append((f'{key} ({len(runs)} run{"s" * (len(runs) > 1)})', series))
    Image.fromarray(plot_series(panels)).save(args.out)
    return args.out


def main(argv=None) -> int:
    args = parse_args(argv)
    out = plot_curve(args)
    print(f'wrote {out}: {", ".join(args.keys)} of {len(args.logs)} log argument(s)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
