"""Training curves from MMEngine's scalar logs (``<work_dir>/<timestamp>/vis_data/scalars.json``:
one JSON object per logged iteration with ``step``, ``loss``, ``lr`` and, for several
parameter groups, ``lr_<group>`` style keys), drawn with matplotlib (installed with
mmdet, a runtime requirement)."""
import json
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np

__all__ = ['find_scalar_logs', 'read_scalars', 'series_of', 'plot_series']

PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40),  # matplotlib's
           (148, 103, 189), (140, 86, 75), (227, 119, 194), (127, 127, 127),  # tab10, RGB
           (188, 189, 34), (23, 190, 207)]
Series = Dict[str, Tuple[List[float], List[float]]]   # label -> (steps, values)


def find_scalar_logs(path) -> List[Path]:
    """``scalars.json`` files of a work dir (each run's timestamp folder, oldest
    first), or the file itself. Raises naming the path when there is none."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f'no such work dir or scalar log: {path}')
    found = sorted(path.glob('*/vis_data/scalars.json')) or sorted(
        path.glob('vis_data/scalars.json'))
    if not found:
        raise FileNotFoundError(f'{path}: no */vis_data/scalars.json (MMEngine writes it '
                                'with the LocalVisBackend of the config\'s visualizer)')
    return found


def read_scalars(path) -> List[dict]:
    """The training records (those with a ``step``) of one ``scalars.json``."""
    records = []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f'{path}:{number}: not JSON ({error})') from error
        if 'step' in record:
            records.append(record)
    return records


def series_of(records: Sequence[dict], key: str) -> Dict[str, Tuple[List[float], List[float]]]:
    """``{log key: (steps, values)}`` of ``key`` and of every ``<key>_<suffix>`` key
    (``lr`` also gives ParamGroupLrHook's per-group ``lr_depth<d>`` / ``lr_group<i>``;
    MMEngine's ``base_lr`` is not plotted)."""
    names = sorted({k for r in records for k in r if k == key or k.startswith(key + '_')})
    out = {}
    for name in names:
        points = [(r['step'], float(r[name])) for r in records
                  if name in r and isinstance(r[name], (int, float))]
        if points:
            out[name] = ([p[0] for p in points], [p[1] for p in points])
    return out


def plot_series(panels: Sequence[Tuple[str, Series]], width: int = 800,
                panel_height: int = 320, log_keys: Sequence[str] = ('lr',)) -> np.ndarray:
    """One matplotlib plot per ``(title, {label: (steps, values)})``, stacked
    vertically -> uint8 ``[len(panels) * panel_height, width, 3]``. Titles whose first
    word is in ``log_keys`` get a log y axis when every value is positive."""
    import matplotlib
    matplotlib.use('Agg')
    from matplotlib import pyplot as plt

    dpi = 100
    fig, axes = plt.subplots(len(panels), 1, squeeze=False, dpi=dpi,
                             figsize=(width / dpi, panel_height * len(panels) / dpi))
    try:
        for ax, (title, series) in zip(axes[:, 0], panels):
            for i, (label, (steps, values)) in enumerate(series.items()):
                colour = np.array(PALETTE[i % len(PALETTE)]) / 255
                ax.plot(steps, values, label=label, color=colour, linewidth=2)
            values = [v for _, vs in series.values() for v in vs]
            if title.split(' ')[0] in log_keys and values and min(values) > 0:
                ax.set_yscale('log')
            ax.set_title(title)
            ax.set_xlabel('iteration')
            ax.grid(alpha=0.3)
            ax.legend(fontsize='small')
        fig.tight_layout()
        fig.canvas.draw()
        return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    finally:
        plt.close(fig)
