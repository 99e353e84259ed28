"""``LoadImageSafely``: load any common image file as mmcv's ``LoadImageFromFile`` would
(``results['img']`` uint8 ``[H, W, 3]`` in BGR order, ``img_shape``, ``ori_shape``), so
the rest of mmpretrain's pipeline and ``bgr_to_rgb=True`` preprocessing work unchanged.

What happens to a file that cannot be used (``on_error``):

- ``'skip'`` (default): the transform returns ``None``. mmengine's ``BaseDataset`` then
  fetches another index; :class:`~mmmim.datasets.ImageFolder` does the same and, if
  ``max_refetch`` broken files come in a row, raises naming them. Every skip is logged
  as a warning naming the file, the reason and the running count of skips in this
  process (or data loader worker), and recorded in the transform's ``skipped``
  (:class:`SkippedImages`): one record per loader, so per dataset, whose total the
  main process reads across its workers (``SkippedImagesHook`` logs it for the run).
- ``'raise'``: raises :class:`ImageLoadError` naming the file and the reason.

Per-file problems follow ``on_error``: missing or unreadable file, empty file,
unidentifiable or corrupt bytes, truncated data, zero-size or oversized images,
samples without a defined 8-bit scaling. Anything else (a missing ``img_path`` key,
bad arguments, out of memory) is a problem of the run, not of one file, and raises.
"""
from __future__ import annotations

import contextlib
import logging
import multiprocessing
from typing import Callable, Iterator, Optional, Sequence, Tuple, TypeVar

import mmengine.fileio as fileio
import numpy as np
import torch.utils.data
from mmcv.transforms import BaseTransform
from mmengine.logging import print_log

from mmmim.registry import TRANSFORMS

from .decode import DEFAULT_MAX_PIXELS, ImageDecodeError, rgb_to_bgr
from .fast_decode import decode_rgb_fast, full_size

ON_ERROR_CHOICES = ('skip', 'raise')
T = TypeVar('T')


class ImageLoadError(RuntimeError):
    """An image file could not be used; the message names the file and the reason."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f'cannot load image {path}: {reason}')
        self.path = path
        self.reason = reason


class SharedCount:
    """An integer that data loader worker processes add to and the process that
    created it reads (``multiprocessing.Value`` in shared memory, inherited by forked
    workers and handed to spawned ones). A deep copy (mmengine's ``get_subset``)
    counts on its own, from 0."""

    def __init__(self) -> None:
        self._value = multiprocessing.Value('q', 0)

    def add(self, n: int = 1) -> int:
        """Add ``n``; returns the new total."""
        with self._value.get_lock():
            self._value.value += n
            return self._value.value

    @property
    def value(self) -> int:
        return self._value.value

    def __deepcopy__(self, memo) -> 'SharedCount':
        return SharedCount()


class SkippedImages:
    """The images one loader skipped: ``total`` over all its data loader workers (read
    it in the main process), and, in each process, that process' ``count``, distinct
    files and the most recent skip (for its error messages)."""

    def __init__(self) -> None:
        self.shared_total = SharedCount()
        self.count = 0
        self.last: Optional[Tuple[str, str]] = None
        self._files: set = set()

    def record(self, path: str, reason: str) -> int:
        """Count one skip of ``path``; returns the running count of this process."""
        self.shared_total.add()
        self.count += 1
        self.last = (path, reason)
        self._files.add(path)
        return self.count

    @property
    def total(self) -> int:
        """Skips of this loader in every process that shares it (workers included)."""
        return self.shared_total.value

    @property
    def num_files(self) -> int:
        """Number of distinct files skipped so far in this process."""
        return len(self._files)


@contextlib.contextmanager
def file_errors(path: str) -> Iterator[None]:
    """Turn :class:`ImageDecodeError` into :class:`ImageLoadError` naming ``path``."""
    try:
        yield
    except ImageDecodeError as exc:
        raise ImageLoadError(path, str(exc)) from exc


def _where() -> str:
    """'this process' or the data loader worker we run in."""
    info = torch.utils.data.get_worker_info()
    return 'this process' if info is None else f'data loader worker {info.id}'


@TRANSFORMS.register_module()
class LoadImageSafely(BaseTransform):
    """Load an image file of any common format as a BGR uint8 ``[H, W, 3]`` array.

    Required keys: ``img_path``. Added keys: ``img``, ``img_shape``, ``ori_shape``.
    Conversions (grayscale, alpha, palette, CMYK, 16-bit, EXIF orientation) are
    described in :mod:`mmmim.datasets.decode`; plain JPEGs are decoded without Pillow
    where ``simplejpeg`` is installed, to the same pixels
    (:mod:`mmmim.datasets.fast_decode`).

    Args:
        on_error: ``'skip'`` returns ``None`` and logs a warning for an unusable file;
            ``'raise'`` raises :class:`ImageLoadError`.
        alpha_background: RGB colour transparent pixels are composited on; ``None``
            drops alpha.
        max_pixels: refuse images with more pixels (checked before decoding).
        exif_orientation: apply the EXIF orientation tag.
        to_float32: return float32 instead of uint8 (as mmcv's loader).
        backend_args: mmengine file backend arguments (as mmcv's loader).
        cache_images: keep up to this many decoded images in memory (per loader
            worker) and hand out copies, for datasets small enough to fit (the demo
            photographs); 0 (default) decodes every time.
    """

    def __init__(self,
                 on_error: str = 'skip',
                 alpha_background: Optional[Sequence[int]] = (255, 255, 255),
                 max_pixels: Optional[int] = DEFAULT_MAX_PIXELS,
                 exif_orientation: bool = True,
                 to_float32: bool = False,
                 backend_args: Optional[dict] = None,
                 cache_images: int = 0) -> None:
        if on_error not in ON_ERROR_CHOICES:
            raise ValueError(f'LoadImageSafely: on_error={on_error!r}, '
                             f'expected one of {ON_ERROR_CHOICES}')
        if alpha_background is not None and len(alpha_background) != 3:
            raise ValueError('LoadImageSafely: alpha_background must be 3 values (RGB) '
                             f'or None, got {alpha_background!r}')
        self.on_error = on_error
        self.alpha_background = alpha_background
        self.max_pixels = max_pixels
        self.exif_orientation = exif_orientation
        self.to_float32 = to_float32
        self.backend_args = backend_args
        self.skipped = SkippedImages()
        if cache_images < 0:
            raise ValueError(f'LoadImageSafely: cache_images must be >= 0, got {cache_images}')
        self.cache_images = cache_images
        self._decoded: dict = {}

    def transform(self, results: dict) -> Optional[dict]:
        """Load ``results['img_path']``; ``None`` if it is unusable and skipping."""
        img = self.load_or_skip(str(results['img_path']), self.load_cached)
        if img is None:
            return None
        results['img'] = img.astype(np.float32) if self.to_float32 else img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def load_or_skip(self, path: str, load: Callable[[str], T]) -> Optional[T]:
        """``load(path)``; on :class:`ImageLoadError` ``None`` (a skip, logged and
        counted) or the error again, as ``on_error`` says."""
        try:
            return load(path)
        except ImageLoadError as err:
            if self.on_error == 'raise':
                raise
            self._report_skip(err)
            return None

    def load_cached(self, path: str) -> np.ndarray:
        """:meth:`load`, from the in-memory cache when ``cache_images`` allows (a
        copy: later transforms may write into it)."""
        if path in self._decoded:
            return self._decoded[path].copy()
        img = self.load(path)
        if len(self._decoded) < self.cache_images:
            self._decoded[path] = img.copy()
        return img

    def load(self, path: str) -> np.ndarray:
        """Read and decode ``path`` into BGR uint8 ``[H, W, 3]``.

        Raises:
            ImageLoadError: the file is missing, unreadable or not a usable image.
        """
        data = self.read(path)
        with file_errors(path):
            rgb, _, _ = decode_rgb_fast(data, full_size, self.alpha_background,
                                        self.max_pixels, self.exif_orientation)
        return rgb_to_bgr(rgb)

    def read(self, path: str) -> bytes:
        """The bytes of ``path`` through mmengine's file backends.

        Raises:
            ImageLoadError: the file is missing or cannot be read.
        """
        try:
            return fileio.get(path, backend_args=self.backend_args)
        except OSError as exc:  # missing, permission, directory, network
            raise ImageLoadError(path, f'cannot read file ({type(exc).__name__}: '
                                       f'{exc.strerror or exc})') from exc

    def _report_skip(self, err: ImageLoadError) -> None:
        """Record the skip and log a warning naming the file, reason and count."""
        count = self.skipped.record(err.path, err.reason)
        print_log(f'{type(self).__name__}: skipped {err.path}: {err.reason} '
                  f'({count} skipped so far in {_where()}, '
                  f'{self.skipped.num_files} distinct files)',
                  logger='current', level=logging.WARNING)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(on_error={self.on_error!r}, '
                f'alpha_background={self.alpha_background!r}, '
                f'max_pixels={self.max_pixels}, exif_orientation={self.exif_orientation}, '
                f'to_float32={self.to_float32}, backend_args={self.backend_args})')
