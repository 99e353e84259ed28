"""Demo data: the real photographs scikit-image ships inside its wheel (offline).

:func:`write_demo_images` writes them (or a subset, e.g. a side of :func:`demo_split`)
flat and unlabeled (the layout of "pretrain on a folder of my own images");
:func:`write_demo_classes` writes an ImageNet-style copy (``train/<class>/<image>``
plus ``meta/train.txt``) for classification smoke tests.
Grayscale photographs stay grayscale (so the loader's conversion is exercised); a mix
of JPEG and PNG is written. Both functions are idempotent: existing files are kept
(``overwrite=True`` rewrites them), and files appear atomically.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List, Optional

import numpy as np

_FORMATS = {'.jpg': 'JPEG', '.png': 'PNG'}


@dataclass(frozen=True)
class DemoPhoto:
    """One photograph of ``skimage.data``: loader name, class folder, file extension."""

    name: str
    category: str
    ext: str = '.jpg'

    @property
    def filename(self) -> str:
        return self.name + self.ext

    def load(self) -> np.ndarray:
        """The photograph as skimage returns it: ``[H, W]`` or ``[H, W, 3]`` uint8."""
        from skimage import data
        image = getattr(data, self.name)()
        return image[0] if isinstance(image, tuple) else image  # stereo: left view


#: Every 2D photograph in the scikit-image wheel (no drawings, masks or phantoms).
DEMO_PHOTOS = (
    DemoPhoto('astronaut', 'scene'),
    DemoPhoto('camera', 'scene', '.png'),            # grayscale
    DemoPhoto('chelsea', 'scene'),
    DemoPhoto('coffee', 'scene', '.png'),
    DemoPhoto('rocket', 'scene'),
    DemoPhoto('stereo_motorcycle', 'scene'),
    DemoPhoto('clock', 'object', '.png'),            # grayscale
    DemoPhoto('coins', 'object', '.png'),            # grayscale
    DemoPhoto('hubble_deep_field', 'sky'),
    DemoPhoto('moon', 'sky'),                        # grayscale JPEG
    DemoPhoto('brick', 'texture', '.png'),           # grayscale
    DemoPhoto('grass', 'texture'),                   # grayscale JPEG
    DemoPhoto('gravel', 'texture', '.png'),          # grayscale
    DemoPhoto('page', 'document', '.png'),           # grayscale
    DemoPhoto('text', 'document'),                   # grayscale JPEG
    DemoPhoto('immunohistochemistry', 'medical'),
    DemoPhoto('retina', 'medical'),
    DemoPhoto('cell', 'medical', '.png'),            # grayscale
    DemoPhoto('microaneurysms', 'medical', '.png'),  # grayscale, 102x102
)


#: Held out of the demo's training folder (never trained on): the demo's reconstruction
#: figures and its masked-unit error are measured on these and on a few training ones.
DEMO_HELDOUT = ('chelsea', 'coffee', 'camera')
#: Training photographs shown next to the held-out ones.
DEMO_SHOWN_TRAIN = ('astronaut', 'rocket')


def demo_split() -> tuple:
    """``(train names, held-out names)`` of :data:`DEMO_PHOTOS`."""
    return ([p.name for p in DEMO_PHOTOS if p.name not in DEMO_HELDOUT], list(DEMO_HELDOUT))


def select_photos(names: Optional[Iterable[str]] = None) -> List[DemoPhoto]:
    """The demo photos called ``names`` (all if ``None``); raise naming unknown ones."""
    if names is None:
        return list(DEMO_PHOTOS)
    by_name = {p.name: p for p in DEMO_PHOTOS}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ValueError(f'unknown demo photos {unknown}; known: {sorted(by_name)}')
    return [by_name[n] for n in names]


def write_photo(photo: DemoPhoto, path: Path, overwrite: bool = False) -> Path:
    """Write one photograph to ``path`` atomically (kept if it exists)."""
    if path.exists() and not overwrite:
        return path
    from PIL import Image
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f'.{path.name}.tmp')  # hidden: never collected as an image
    Image.fromarray(photo.load()).save(tmp, format=_FORMATS[photo.ext], quality=92)
    os.replace(tmp, path)
    return path


def write_demo_images(out_dir, names: Optional[Iterable[str]] = None,
                      overwrite: bool = False) -> List[Path]:
    """Write the demo photographs flat into ``out_dir``; returns their paths.

    Args:
        out_dir: folder to write to (created).
        names: subset of :data:`DEMO_PHOTOS` names; all by default.
        overwrite: rewrite files that exist.
    """
    out = Path(out_dir)
    return [write_photo(p, out / p.filename, overwrite) for p in select_photos(names)]


def write_demo_classes(out_dir, names: Optional[Iterable[str]] = None,
                       overwrite: bool = False) -> List[Path]:
    """Write an ImageNet-style labeled copy into ``out_dir``; returns the written paths.

    Layout: ``out_dir/train/<class>/<image>`` and ``out_dir/meta/train.txt`` with lines
    ``<class>/<image> <label>`` (labels index the sorted class names), the last path
    returned. Read it with ``ImageFolder(data_root=out_dir, data_prefix='train',
    with_label=True)`` or with ``ann_file='meta/train.txt'`` added.
    """
    out = Path(out_dir)
    photos = select_photos(names)
    classes = sorted({p.category for p in photos})
    paths, lines = [], []
    for photo in photos:
        rel = f'{photo.category}/{photo.filename}'
        paths.append(write_photo(photo, out / 'train' / rel, overwrite))
        lines.append(f'{rel} {classes.index(photo.category)}\n')
    ann = out / 'meta' / 'train.txt'
    ann.parent.mkdir(parents=True, exist_ok=True)
    ann.write_text(''.join(lines))
    return paths + [ann]
