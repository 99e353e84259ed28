"""Rows of the GPU check, the table printed at the end, the JSON record, and the
loss comparison of the resume line. Standard library only (runs before anything is
installed)."""
from __future__ import annotations

import glob
import json
import math
import os
from dataclasses import asdict, dataclass
from typing import Dict, Iterable, List, Optional, Sequence

STATUSES = ('pass', 'fail', 'skip', 'figure')
NEEDS_GPU = 'needs GPU'


@dataclass
class Row:
    """One line of the table: ``status`` is pass / fail / skip / figure; ``value`` is
    what was measured or seen; ``note`` says why (the reason of a skip, the error of a
    failure, what a figure means)."""

    step: str
    name: str
    status: str
    value: str = ''
    note: str = ''

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f'status {self.status!r} is not one of {STATUSES}')


def skip_rows(step: str, names: Sequence[str], reason: str) -> List[Row]:
    """The rows of a step that did not run, each with the reason."""
    return [Row(step, name, 'skip', '', reason) for name in names]


def format_table(rows: Sequence[Row], header: bool = True, width: int = 60) -> str:
    """A plain-text table, one line per row: step, line, status, value, note (value
    and note cut to ``width`` characters)."""
    cells = [('step', 'line', 'status', 'value', 'note')] if header else []
    cells += [(r.step, r.name, r.status.upper(), _cut(r.value, width), _cut(r.note, width))
              for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(4)]
    lines = ['  '.join(c[i].ljust(widths[i]) for i in range(4)) + '  ' + c[4] for c in cells]
    return '\n'.join(line.rstrip() for line in lines)


def _cut(text: str, width: int) -> str:
    text = ' '.join(str(text).split())
    return text if len(text) <= width else text[:width - 3] + '...'


def summary(rows: Sequence[Row]) -> Dict[str, int]:
    """How many rows of each status."""
    return {s: sum(r.status == s for r in rows) for s in STATUSES}


def write_json(path: str, rows: Sequence[Row], meta: dict,
               details: Optional[dict] = None) -> None:
    """``{"meta": ..., "summary": ..., "rows": [...], "details": {...}}`` at ``path``."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    record = dict(meta=meta, summary=summary(rows), rows=[asdict(r) for r in rows],
                  details=details or {})
    with open(path, 'w') as f:
        json.dump(record, f, indent=2, default=str)


def read_losses(work_dir: str) -> List[float]:
    """The training losses logged in a run's ``<timestamp>/vis_data/scalars.json``
    (mmengine's LocalVisBackend; the newest run of the work dir), in order."""
    files = sorted(glob.glob(os.path.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not files:
        raise FileNotFoundError(f'no */vis_data/scalars.json under {work_dir}')
    losses = []
    with open(files[-1]) as f:
        for line in f:
            record = json.loads(line)
            if 'loss' in record:
                losses.append(float(record['loss']))
    return losses


def losses_agree(uninterrupted: Iterable[float], resumed: Iterable[float],
                 rtol: float = 1e-4) -> bool:
    """Whether a resumed run ends on the uninterrupted run's last loss (relative
    tolerance ``rtol``; NaN or a missing loss never agrees)."""
    a, b = list(uninterrupted), list(resumed)
    if not a or not b or not all(map(math.isfinite, (a[-1], b[-1]))):
        return False
    return abs(a[-1] - b[-1]) <= rtol * abs(a[-1])
