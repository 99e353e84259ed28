"""Tiny downstream datasets made from scikit-image's photographs, by name: the bench's
and the downstream tests' data (:mod:`.coco`, :mod:`.ade`).

``TINY_DATASETS`` maps a name to a writer ``write(out_dir) -> counts``;
``tools/dataset_converters/make_tiny_downstream_data.py OUT`` writes each one under
``OUT/<name>`` (e.g. ``OUT/coco``). A new dataset registers its writer here.
"""
from pathlib import Path
from typing import Callable, Dict, Iterable, Optional

from .ade import write_tiny_ade
from .coco import write_tiny_coco

TINY_DATASETS: Dict[str, Callable[..., Dict[str, int]]] = {'coco': write_tiny_coco,
                                                           'ade': write_tiny_ade}


def write_tiny_downstream(out, names: Optional[Iterable[str]] = None
                          ) -> Dict[str, Dict[str, int]]:
    """Write the datasets ``names`` (all by default) under ``out/<name>``.

    Returns:
        name -> the writer's counts (images / instances per split...).
    """
    names = list(TINY_DATASETS) if names is None else list(names)
    unknown = [n for n in names if n not in TINY_DATASETS]
    if unknown:
        raise ValueError(f'unknown tiny datasets {unknown}; known: {sorted(TINY_DATASETS)}')
    return {name: TINY_DATASETS[name](Path(out) / name) for name in names}
