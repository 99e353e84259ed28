"""Training curves from MMEngine's scalar logs (``<work_dir>/<timestamp>/vis_data/scalars.json``:
one JSON object per logged iteration with ``step``, ``loss``, ``lr`` and, for several
parameter groups, ``lr_<group>`` style keys), drawn with PIL."""
import json
import math
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw

from .canvas import _font

__all__ = ['find_scalar_logs', 'read_scalars', 'series_of', 'plot_series']

PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]
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
    """``{log key: (steps, values)}`` of ``key`` and of every key that extends it
    (``lr`` also gives per-group ``lr_<group>`` / ``<group>_lr`` keys), training
    records only (those without evaluation keys)."""
    names = sorted({k for r in records for k in r
                    if k == key or k.startswith(key + '_') or k.endswith('_' + key)})
    out = {}
    for name in names:
        points = [(r['step'], float(r[name])) for r in records
                  if name in r and isinstance(r[name], (int, float))]
        if points:
            out[name] = ([p[0] for p in points], [p[1] for p in points])
    return out


def _ticks(low: float, high: float, count: int = 5) -> List[float]:
    if high <= low:
        return [low]
    step = 10 ** math.floor(math.log10((high - low) / count))
    for factor in (1, 2, 5, 10):
        if (high - low) / (step * factor) <= count:
            step *= factor
            break
    start = math.ceil(low / step) * step
    return list(np.arange(start, high + step * 1e-9, step))


def _label(value: float) -> str:
    return f'{value:.3g}' if abs(value) < 1e4 else f'{value:.2e}'


def plot_series(panels: Sequence[Tuple[str, Series]], width: int = 640, height: int = 300,
                log_keys: Sequence[str] = ('lr',)) -> np.ndarray:
    """One plot per ``(title, {label: (steps, values)})``, stacked vertically ->
    uint8 ``[H, W, 3]``. Titles whose key is in ``log_keys`` use a log y axis when
    every value is positive."""
    plots = [_plot_one(title, series, width, height,
                       title.split(' ')[0] in log_keys) for title, series in panels]
    canvas = Image.new('RGB', (width, height * len(plots)), 'white')
    for i, plot in enumerate(plots):
        canvas.paste(plot, (0, i * height))
    return np.asarray(canvas)


def _plot_one(title: str, series: Series, width: int, height: int, log_y: bool
              ) -> Image.Image:
    font = _font()
    image = Image.new('RGB', (width, height), 'white')
    draw = ImageDraw.Draw(image)
    left, right, top, bottom = 64, 12, 24, 36
    legend_h = 14 * len(series)
    box = (left, top + legend_h, width - right, height - bottom)
    draw.text((left, 4), title, fill='black', font=font)
    values = [v for _, vs in series.values() for v in vs]
    steps = [s for ss, _ in series.values() for s in ss]
    if not values:
        draw.text((left, height // 2), 'no values', fill='black', font=font)
        return image
    log_y = log_y and min(values) > 0
    fy = (lambda v: math.log10(v)) if log_y else (lambda v: v)
    y0, y1 = fy(min(values)), fy(max(values))
    if y1 - y0 < 1e-12:
        y0, y1 = y0 - 0.5, y1 + 0.5
    x0, x1 = min(steps), max(max(steps), min(steps) + 1)
    px = lambda s: box[0] + (s - x0) / (x1 - x0) * (box[2] - box[0])  # noqa: E731
    py = lambda v: box[3] - (fy(v) - y0) / (y1 - y0) * (box[3] - box[1])  # noqa: E731
    draw.rectangle(box, outline='black')
    for t in _ticks(x0, x1):
        draw.line([(px(t), box[3]), (px(t), box[3] + 4)], fill='black')
        draw.text((px(t) - 10, box[3] + 6), _label(t), fill='black', font=font)
    draw.text(((box[0] + box[2]) // 2 - 20, height - 14), 'iteration', fill='black', font=font)
    for t in _ticks(y0, y1):
        value = 10 ** t if log_y else t
        draw.line([(box[0] - 4, py(value)), (box[0], py(value))], fill='black')
        draw.text((2, py(value) - 6), _label(value), fill='black', font=font)
    for i, (label, (xs, ys)) in enumerate(series.items()):
        colour = PALETTE[i % len(PALETTE)]
        points = [(px(s), py(v)) for s, v in zip(xs, ys)]
        if len(points) > 1:
            draw.line(points, fill=colour, width=2)
        else:
            draw.ellipse([points[0][0] - 2, points[0][1] - 2, points[0][0] + 2,
                          points[0][1] + 2], fill=colour)
        draw.line([(left + 4, top + 7 + 14 * i), (left + 24, top + 7 + 14 * i)],
                  fill=colour, width=2)
        draw.text((left + 30, top + 14 * i), label, fill='black', font=font)
    return image
