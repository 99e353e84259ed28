"""``ImageFolder``: one dataset type for the three layouts pretraining meets.

1. a plain folder of unlabeled images, searched recursively (the default);
2. class subfolders, ImageNet style (``train/n01440764/x.JPEG``); with
   ``with_label=True`` the sorted folder names become the classes;
3. an annotation list ``ann_file``: one image per line, ``path [label]``, paths
   relative to ``data_root/data_prefix``. A trailing integer is read as the label.

Pretraining never needs labels: ``with_label=False`` (default) reads layout 2 as
layout 1. Extensions are matched case-insensitively; hidden files and folders (names
starting with ``.``, e.g. macOS ``._x.jpg`` resource forks) are ignored.

The folder layouts are mmpretrain's ``CustomDataset``'s (its ``load_data_list``, with
our search rules and errors); the annotation list is read here (comments, blank lines,
an optional label, missing files named). A missing root, an empty folder or an
annotation list naming a missing file raise at construction, naming the path.

Broken image files are the loader's business (:class:`~mmmim.datasets.LoadImageSafely`
returns ``None``): mmengine's ``BaseDataset`` fetches another index, and if
``max_refetch + 1`` in a row are dropped, ``__getitem__`` raises naming them and why.
:attr:`ImageFolder.skipped_images` counts this dataset's skips over all its data loader
workers.
"""
from __future__ import annotations

import logging
import os
from typing import List, Optional, Sequence, Tuple, Union

from mmengine.dist import get_rank
from mmengine.fileio import get_file_backend, list_from_file
from mmengine.logging import print_log
from mmpretrain.datasets import CustomDataset
from mmpretrain.datasets.custom import get_samples

from mmmim.registry import DATASETS, TRANSFORMS

from .loading import ImageLoadError, LoadImageSafely, SkippedImages

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp', '.ppm', '.pgm')
#: (relative path, label or None, line number in the annotation list or None)
Entry = Tuple[str, Optional[int], Optional[int]]


def normalize_extensions(extensions: Sequence[str]) -> Tuple[str, ...]:
    """Lower-case extensions with a leading dot: ``('JPG', '.png') -> ('.jpg', '.png')``."""
    return tuple(sorted({('' if e.startswith('.') else '.') + e.lower() for e in extensions}))


def parse_ann_line(line: str) -> Tuple[str, Optional[int]]:
    """``'a/b.jpg 3' -> ('a/b.jpg', 3)``; ``'a/b c.jpg' -> ('a/b c.jpg', None)``."""
    parts = line.rsplit(maxsplit=1)
    if len(parts) == 2 and parts[1].lstrip('-').isdigit():
        return parts[0], int(parts[1])
    return line, None


@DATASETS.register_module()
class ImageFolder(CustomDataset):
    """Images from a folder (recursive), class subfolders or an annotation list.

    Args:
        data_root: root joined with ``data_prefix`` and ``ann_file``.
        data_prefix: folder holding the images (relative to ``data_root``), or
            ``dict(img_path=folder)``.
        ann_file: annotation list; empty to search the folder instead.
        with_label: attach ``gt_label`` (from class subfolders or the list).
        extensions: image extensions to collect (case-insensitive).
        pipeline: transforms, as configs or built objects (built with mmmim's
            registry, so ``LoadImageSafely`` resolves without a default scope).
        check_files: check at construction that every listed image exists
            (one ``stat`` per line of ``ann_file``). In a distributed run only rank 0
            checks (a missing file stops it, and the launcher stops the others), so
            a shared file system sees the stats once, not once per rank.
        max_refetch: broken samples in a row before ``__getitem__`` gives up.
        **kwargs: other arguments of mmpretrain's ``CustomDataset``.
    """

    def __init__(self,
                 data_root: str = '',
                 data_prefix: Union[str, dict] = '',
                 ann_file: str = '',
                 with_label: bool = False,
                 extensions: Sequence[str] = IMG_EXTENSIONS,
                 pipeline: Sequence = (),
                 check_files: bool = True,
                 max_refetch: int = 100,
                 **kwargs) -> None:
        if not (data_root or data_prefix or ann_file):
            raise ValueError('ImageFolder: data_root, data_prefix and ann_file are all '
                             'empty; set data_root to the image folder')
        self.check_files = check_files
        if not isinstance(data_prefix, dict):  # mmengine's form: dict(img_path=...)
            data_prefix = dict(img_path=os.path.expanduser(str(data_prefix)))
        self._configured_prefix = data_prefix.get('img_path', '')
        self._prefix_backend = None
        self._dropped: List[str] = []  # 'path: reason' of the current run of drops
        pipeline = [TRANSFORMS.build(t) if isinstance(t, dict) else t for t in pipeline]
        super().__init__(data_root=os.path.expanduser(str(data_root)), data_prefix=data_prefix,
                         ann_file=str(ann_file), with_label=with_label,
                         extensions=normalize_extensions(extensions), pipeline=pipeline,
                         max_refetch=max_refetch, **kwargs)

    # ---- finding the images ------------------------------------------------------

    def load_data_list(self) -> List[dict]:
        """Collect ``{'img_path'[, 'gt_label']}`` for every image of the layout."""
        if self.img_prefix or not self.ann_file:
            self._check_dir(self.img_prefix, 'image folder')
        if not self.ann_file:  # CustomDataset's folder layouts, through _find_samples
            return super().load_data_list()
        data_list = []
        for rel_path, label, _ in self._read_ann_file():
            info = {'img_path': self._full_path(rel_path)}
            if self.with_label:
                info['gt_label'] = label
            data_list.append(info)
        return data_list

    def _find_samples(self) -> list:
        """CustomDataset's hook for the folder layouts: relative paths, or
        ``(relative path, label)`` with ``with_label``."""
        return self._find_in_classes() if self.with_label else self._find_all()

    def _full_path(self, rel_path: str) -> str:
        """``rel_path`` joined to the image folder (absolute paths stay as they are)."""
        if not self.img_prefix:
            return rel_path
        if self._prefix_backend is None:  # inferred once: ~5 us per call otherwise
            self._prefix_backend = get_file_backend(self.img_prefix, enable_singleton=True)
        return self._prefix_backend.join_path(self.img_prefix, rel_path)

    def is_valid_file(self, filename: str) -> bool:
        """An image extension, and no hidden component in the relative path."""
        parts = filename.replace('\\', '/').split('/')
        return (filename.lower().endswith(self.extensions)
                and not any(p.startswith('.') for p in parts))

    def _check_dir(self, path: str, what: str) -> None:
        """Raise naming ``path`` (and data_root / data_prefix) if it is not a folder."""
        if not get_file_backend(path, enable_singleton=True).isdir(path):
            raise FileNotFoundError(
                f'ImageFolder: {what} {path} does not exist or is not a directory '
                f'(data_root={self.data_root!r}, data_prefix={self._configured_prefix!r})')

    def _no_images(self, where: str) -> FileNotFoundError:
        """The error for a folder without images, listing the extensions looked for."""
        exts = ', '.join('*' + e for e in self.extensions)
        return FileNotFoundError(f'ImageFolder: no images ({exts}) found under {where} '
                                 '(searched recursively; hidden files are ignored)')

    def _find_all(self) -> List[str]:
        """Every image under the folder, recursively, sorted."""
        samples, _ = get_samples(self.img_prefix, None, is_valid_file=self.is_valid_file)
        if not samples:
            raise self._no_images(self.img_prefix)
        return samples

    def _find_in_classes(self) -> List[Tuple[str, int]]:
        """Images in class subfolders; sorted folder names are the classes."""
        backend = get_file_backend(self.img_prefix, enable_singleton=True)
        folders = sorted(d for d in backend.list_dir_or_file(
            self.img_prefix, list_dir=True, list_file=False) if not d.startswith('.'))
        if not folders:
            raise FileNotFoundError(f'ImageFolder: with_label=True but {self.img_prefix} has '
                                    'no class subfolders (expected <folder>/<class>/<image>)')
        self._check_classes(folders)
        samples, empty = get_samples(self.img_prefix, {f: i for i, f in enumerate(folders)},
                                     is_valid_file=self.is_valid_file)
        if not samples:
            raise self._no_images(f'the class folders of {self.img_prefix}')
        if empty:
            print_log(f'ImageFolder: class folders without images under {self.img_prefix}: '
                      f'{", ".join(sorted(empty))}', logger='current', level=logging.WARNING)
        return samples

    def _check_classes(self, folders: List[str]) -> None:
        """Record the folder names as classes, or check them against given classes."""
        if self.CLASSES is None:
            self._metainfo['classes'] = tuple(folders)
        elif len(self.CLASSES) != len(folders):
            raise ValueError(f'ImageFolder: {len(folders)} class folders under '
                             f'{self.img_prefix} but {len(self.CLASSES)} classes given')

    def _read_ann_file(self) -> List[Entry]:
        """Parse the annotation list; raise naming the line of any bad entry."""
        backend = get_file_backend(self.ann_file, enable_singleton=True)
        if not backend.isfile(self.ann_file):
            raise FileNotFoundError(f'ImageFolder: annotation list {self.ann_file} does not '
                                    f'exist (data_root={self.data_root!r})')
        entries = []
        for number, line in enumerate(list_from_file(self.ann_file), start=1):
            if not line.strip() or line.lstrip().startswith('#'):
                continue
            path, label = parse_ann_line(line.strip())
            if self.with_label and label is None:
                raise ValueError(f'ImageFolder: {self.ann_file}, line {number}: no label in '
                                 f'{line.strip()!r} (with_label=True needs "path label")')
            entries.append((path, label, number))
        if not entries:
            raise FileNotFoundError(f'ImageFolder: annotation list {self.ann_file} lists '
                                    'no images')
        if self.check_files and get_rank() == 0:
            self._check_listed_files(entries)
        return entries

    def _check_listed_files(self, entries: List[Entry]) -> None:
        """Raise naming the list, line numbers and paths of listed files that are missing."""
        backend = get_file_backend(self.img_prefix or '.', enable_singleton=True)
        missing = []
        for rel_path, _, number in entries:
            path = self._full_path(rel_path)
            if not backend.isfile(path):
                missing.append(f'line {number}: {path}')
        if missing:
            shown = '; '.join(missing[:5]) + ('; ...' if len(missing) > 5 else '')
            raise FileNotFoundError(f'ImageFolder: annotation list {self.ann_file} names '
                                    f'{len(missing)} missing file(s): {shown}')

    # ---- fetching samples --------------------------------------------------------

    @property
    def skipped_images(self) -> List[SkippedImages]:
        """The skip records of the image loaders in this dataset's pipeline."""
        return [t.skipped for t in self.pipeline.transforms
                if isinstance(t, LoadImageSafely)]

    def __getitem__(self, idx: int) -> dict:
        """mmengine's ``BaseDataset.__getitem__`` (a dropped sample is replaced by a
        random other one); when it gives up, the error names the dropped files.

        Raises:
            RuntimeError: ``max_refetch + 1`` samples in a row were dropped (or, in
                test mode, one was), naming the files and the reasons.
        """
        self._dropped = []
        try:
            return super().__getitem__(idx)
        except Exception as exc:
            gave_up = len(self._dropped) == (1 if self.test_mode else self.max_refetch + 1)
            if not gave_up:
                raise
            raise RuntimeError(self._refetch_message(self._dropped)) from exc

    def prepare_data(self, idx: int):
        """Run the pipeline; an exception from a transform is re-raised naming the file."""
        data_info = self.get_data_info(idx)
        path = data_info.get('img_path')
        skips_before = [record.count for record in self.skipped_images]
        try:
            data = self.pipeline(data_info)
        except (ImageLoadError, MemoryError):
            raise
        except Exception as exc:
            raise RuntimeError(f'ImageFolder: pipeline failed on {path} (index {idx}): '
                               f'{type(exc).__name__}: {exc}') from exc
        if data is None:
            self._dropped.append(self._why_dropped(path, skips_before))
        else:
            self._dropped = []
        return data

    def _why_dropped(self, path: str, skips_before: List[int]) -> str:
        """``'path: reason'`` for a sample whose pipeline returned ``None``."""
        for record, before in zip(self.skipped_images, skips_before):
            if record.count > before and record.last and record.last[0] == path:
                return f'{path}: {record.last[1]}'
        return f'{path}: a pipeline transform returned None'

    def _refetch_message(self, failures: List[str]) -> str:
        """Error text for a run of dropped samples, listing the last ones."""
        shown = '\n  '.join(failures[-10:])
        head = ('test_mode: the pipeline dropped a sample' if self.test_mode else
                f'{len(failures)} samples in a row were dropped (max_refetch='
                f'{self.max_refetch}); the last ones')
        skipped = sum(record.count for record in self.skipped_images)
        return (f'ImageFolder: {head}:\n  {shown}\n{skipped} images skipped so far in '
                'this process. Check these files, data_root / data_prefix and the pipeline.')
