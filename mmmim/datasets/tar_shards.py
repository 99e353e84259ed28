"""WebDataset-format tar shards read map-style: :class:`TarShardDataset`.

``tools/dataset_converters/make_shards.py`` writes the shards (``<key>.<ext>`` image
bytes, ``<key>.cls`` label text) and an index JSON (:data:`INDEX_FORMAT`) that gives,
for every sample, its shard, the byte offset and size of its image inside the tar,
its member name and label. The dataset reads the index once and never scans a tar;
a sample is one ``pread`` at a known offset.

Each sample's ``img_path`` is a *member path*,
``tarshard://<shard file>@<offset>+<size>/<member name>``, which mmengine's fileio
resolves through :class:`TarMemberBackend` (registered for the ``tarshard`` prefix).
So ``LoadImageSafely`` (and ``LoadImageBytes``) read shard members exactly as they
read files: a corrupt member is skipped and named (shard, offset and member), and the
pipeline is the folder pipeline unchanged. Being map-style, the dataset works with
the samplers as they are: per-rank sharding (``DefaultSampler``) and exact mid-epoch
resume (``ResumableSampler``) index it like an ``ImageFolder``.

Shards on object storage: the index is read through mmengine's fileio (any backend
prefix, e.g. ``s3://``/``petrel://`` where that backend is installed); a shard whose
path has such a prefix is fetched whole, once per node, into ``cache_dir`` (the
backend argument, ``LoadImageSafely(backend_args=dict(cache_dir=...))``) and read
locally from then on (mmengine's backends read whole objects, not byte ranges).
"""
from __future__ import annotations

import json
import os
import re
import threading
from typing import Dict, List, Optional, Tuple

from mmengine import fileio
from mmengine.fileio.backends import BaseStorageBackend, register_backend

from mmmim.registry import DATASETS

from .image_folder import ImageFolder

#: ``format`` field of a shard index written by make_shards.py
INDEX_FORMAT = 'mmmim-webdataset-shards/1'
MEMBER_PREFIX = 'tarshard'
_MEMBER_PATH = re.compile(rf'^{MEMBER_PREFIX}://(.+?)@(\d+)\+(\d+)/(.+)$')
_SCHEME_END = '%3A//'  # a remote shard's '://' inside a member path (mmengine reads one)


def member_path(shard: str, offset: int, size: int, name: str) -> str:
    """The fileio path of a tar member: ``tarshard://<shard>@<offset>+<size>/<name>``
    (a remote shard's ``s3://`` is written ``s3%3A//``: mmengine reads one ``://``)."""
    return f'{MEMBER_PREFIX}://{shard.replace("://", _SCHEME_END, 1)}@{offset}+{size}/{name}'


def parse_member_path(path: str) -> Tuple[str, int, int, str]:
    """``member_path``'s inverse: ``(shard, offset, size, name)``.

    Raises:
        ValueError: ``path`` is not a member path.
    """
    match = _MEMBER_PATH.match(str(path))
    if not match:
        raise ValueError(f'not a tar member path ({MEMBER_PREFIX}://<shard>@<offset>+'
                         f'<size>/<name>): {path}')
    shard, offset, size, name = match.groups()
    shard = shard.replace(_SCHEME_END, '://', 1)
    return shard, int(offset), int(size), name


class _OpenShards:
    """Read-only file descriptors of shards, per process (a forked data loader worker
    opens its own: descriptors are not shared across ``fork``); ``pread`` needs no
    seek, so threads can share them."""

    def __init__(self) -> None:
        self._pid = -1
        self._fds: Dict[str, int] = {}
        self._lock = threading.Lock()

    def fd(self, path: str) -> int:
        with self._lock:
            if self._pid != os.getpid():
                self._pid, self._fds = os.getpid(), {}
            if path not in self._fds:
                self._fds[path] = os.open(path, os.O_RDONLY)
            return self._fds[path]


_OPEN_SHARDS = _OpenShards()


class TarMemberBackend(BaseStorageBackend):
    """mmengine file backend for ``tarshard://`` member paths: one ``pread`` of the
    member's bytes at its recorded offset.

    Args:
        cache_dir: where shards with a remote prefix (``s3://``, ``http://``, ...) are
            fetched whole, once, through mmengine's fileio; required for them.
        **backend_args: passed to mmengine's fileio for those remote shards.
    """

    def __init__(self, cache_dir: Optional[str] = None, **backend_args) -> None:
        self.cache_dir = cache_dir
        self.backend_args = backend_args or None

    def get(self, filepath) -> bytes:
        """The member's bytes.

        Raises:
            OSError: the shard is missing or unreadable, or ends before the member.
        """
        shard, offset, size, _ = parse_member_path(filepath)
        data = os.pread(_OPEN_SHARDS.fd(self.local_shard(shard)), size, offset)
        if len(data) != size:
            raise OSError(f'shard {shard} ends inside this member (read {len(data)} of '
                          f'{size} bytes at offset {offset}): truncated shard')
        return data

    def get_text(self, filepath, encoding: str = 'utf-8') -> str:
        return self.get(filepath).decode(encoding)

    def local_shard(self, shard: str) -> str:
        """``shard`` itself if local; else its copy in ``cache_dir``, fetched once."""
        if '://' not in shard:
            return shard
        if not self.cache_dir:
            raise OSError(f'shard {shard} is remote: set cache_dir in the loader\'s '
                          'backend_args to fetch shards to local disk')
        local = os.path.join(self.cache_dir, shard.split('://', 1)[1].replace('/', '__'))
        if not os.path.exists(local):
            os.makedirs(self.cache_dir, exist_ok=True)
            temporary = f'{local}.tmp{os.getpid()}'
            with open(temporary, 'wb') as f:
                f.write(fileio.get(shard, backend_args=self.backend_args))
            os.replace(temporary, local)  # atomic: concurrent workers agree
        return local


register_backend(MEMBER_PREFIX, TarMemberBackend, force=True, prefixes=MEMBER_PREFIX)


def read_index(path: str, backend_args: Optional[dict] = None) -> dict:
    """The shard index at ``path`` (any mmengine fileio path), checked for its format.

    Raises:
        FileNotFoundError: no index there.
        ValueError: not a shard index, or its shard lists disagree in length.
    """
    try:
        index = json.loads(fileio.get_text(path, backend_args=backend_args))
    except FileNotFoundError as exc:
        raise FileNotFoundError(f'TarShardDataset: shard index {path} does not exist '
                                '(write it with tools/dataset_converters/make_shards.py)'
                                ) from exc
    if not isinstance(index, dict) or index.get('format') != INDEX_FORMAT:
        raise ValueError(f'TarShardDataset: {path} is not a shard index (format '
                         f'{INDEX_FORMAT!r} expected)')
    for shard in index['shards']:
        lengths = {len(shard[k]) for k in ('keys', 'members', 'offsets', 'sizes')}
        if lengths != {shard['num_samples']}:
            raise ValueError(f'TarShardDataset: {path}: shard {shard["file"]} lists '
                             f'{sorted(lengths)} entries for {shard["num_samples"]} samples')
    return index


@DATASETS.register_module()
class TarShardDataset(ImageFolder):
    """The samples of WebDataset-format tar shards, map-style, through their index.

    Samples come in index order (the source folder's sorted order, as ``ImageFolder``
    lists it): the same sampler seed gives the same batches as the folder.

    Args:
        data_root: folder of the index and (by default) the shards; may carry an
            mmengine fileio prefix.
        ann_file: the index file name, relative to ``data_root`` (empty: ``index.json``).
        with_label: attach ``gt_label`` (the index's labels; the index's classes
            become the metainfo's).
        pipeline: the transforms, as for ``ImageFolder``.
        check_files: check at construction that every shard exists and is long
            enough for its last member (one ``stat`` per shard).
        max_refetch: broken samples in a row before ``__getitem__`` gives up.
        **kwargs: other arguments of mmpretrain's ``CustomDataset``.
    """

    def __init__(self, data_root: str = '', ann_file: str = 'index.json',
                 with_label: bool = False, pipeline=(), check_files: bool = True,
                 max_refetch: int = 100, **kwargs) -> None:
        super().__init__(data_root=data_root, ann_file=ann_file or 'index.json',
                         with_label=with_label,
                         pipeline=pipeline, check_files=check_files,
                         max_refetch=max_refetch, **kwargs)

    def load_data_list(self) -> List[dict]:
        """``{'img_path': member path[, 'gt_label']}`` for every sample of the index."""
        index = read_index(self.ann_file)
        if self.with_label:
            if index.get('classes') is None:
                raise ValueError(f'TarShardDataset: with_label=True but {self.ann_file} '
                                 'has no labels (write the shards with --with-label)')
            self._metainfo.setdefault('classes', tuple(index['classes']))
        folder = os.path.dirname(self.ann_file)
        data_list = []
        for shard in index['shards']:
            path = self._shard_path(folder, shard)
            for i, name in enumerate(shard['members']):
                info = {'img_path': member_path(path, shard['offsets'][i],
                                                shard['sizes'][i], name)}
                if self.with_label:
                    info['gt_label'] = shard['labels'][i]
                data_list.append(info)
        self.shard_index = index
        return data_list

    def _shard_path(self, folder: str, shard: dict) -> str:
        """The shard's path (beside the index); with ``check_files``, a local shard
        must exist and reach the end of its last member."""
        name = shard['file']
        path = name if os.path.isabs(name) or '://' in name else os.path.join(folder, name)
        if not self.check_files or '://' in path or not shard['num_samples']:
            return path
        end = shard['offsets'][-1] + shard['sizes'][-1]
        if not os.path.isfile(path):
            raise FileNotFoundError(f'TarShardDataset: shard {path} listed in '
                                    f'{self.ann_file} does not exist')
        if os.path.getsize(path) < end:
            raise ValueError(f'TarShardDataset: shard {path} is {os.path.getsize(path)} '
                             f'bytes, its last member ends at byte {end}: truncated copy')
        return path
