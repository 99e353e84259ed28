"""Checkpoint files: the one reader every load goes through, and atomic writes.

:func:`read_checkpoint` loads with ``torch.load(weights_only=True)`` (never running
code from the file) and turns every failure into a :class:`CheckpointError` that
names the file and says what is wrong with it:

- missing, or a directory;
- empty (0 bytes) or truncated: a zip archive (``torch.save``'s format) without its
  end, the mark of a save interrupted by a kill or a full disk;
- not a checkpoint: neither a zip archive nor a pickle (an image, text...), or a
  plain pickle that ``torch.save`` did not write;
- code-executing pickle refused: it asks for a global (``os.system``, a class of
  some package) outside the weights-only allow-list of :mod:`mmmim.compat`;
- corrupt: anything else torch cannot read.

Importing this module makes mmengine's loader of local files (runner resume,
``load_from``, ``init_cfg=dict(type='Pretrained')``) this reader, so runs, the
converters and ``MIMPretrained`` report a bad file the same way.

:func:`write_atomically` writes to a temporary file in the target's folder, flushes
and fsyncs it, then renames it over the target: a reader sees the old file or the
complete new one, never a part.
"""
from __future__ import annotations

import io
import os
import os.path as osp
import re
import zipfile
from typing import Any, Optional, Union

import torch
from mmengine.fileio import get as get_bytes
from mmengine.runner.checkpoint import CheckpointLoader

ZIP_MAGIC = b'PK\x03\x04'
PICKLE_PROTO = 0x80
#: Hidden temporary files of :func:`write_atomically`: ``.<name>.tmp-<pid>``.
TEMP_FILE = re.compile(r'^\.(?P<name>.+)\.tmp-\d+$')
MapLocation = Union[str, torch.device, None, Any]


class CheckpointError(RuntimeError):
    """A checkpoint file cannot be used; ``path`` and ``problem`` say which and why."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f'cannot load checkpoint {path}: {problem}')
        self.path = str(path)
        self.problem = problem


class MissingCheckpointError(CheckpointError, FileNotFoundError):
    """There is no checkpoint file (also a ``FileNotFoundError``, as mmengine raises)."""


def read_checkpoint(path: str, map_location: MapLocation = 'cpu', mmap: bool = False):
    """Load a checkpoint (local path or URL) without running code from it.

    Args:
        path: the file, or a URL mmengine's file backends read.
        map_location: as ``torch.load``.
        mmap: map a local zip-format file instead of reading it (the tensors are
            read on first use): a fast check that the file is complete and safe.

    Raises:
        CheckpointError: naming ``path`` and the problem (see the module doc).
    """
    path = str(path)
    remote = '://' in path
    if not remote:
        path = osp.expanduser(path)
        if not osp.isfile(path):
            what = 'is a directory' if osp.isdir(path) else 'does not exist'
            raise MissingCheckpointError(path, f'the file {what}')
    head = _head(path, remote)
    problem = _problem_of_bytes(path, head, remote)
    if problem:
        raise CheckpointError(path, problem)
    source = io.BytesIO(get_bytes(path)) if remote else path
    use_mmap = mmap and not remote and head.startswith(ZIP_MAGIC)
    try:
        return torch.load(source, map_location=map_location, weights_only=True,
                          mmap=use_mmap)
    except Exception as exc:  # the file's fault: torch raises many kinds
        raise CheckpointError(path, describe_load_error(exc, head)) from exc


def _head(path: str, remote: bool) -> bytes:
    """The first 16 bytes of the file."""
    if remote:
        return get_bytes(path)[:16]
    with open(path, 'rb') as f:
        return f.read(16)


def _problem_of_bytes(path: str, head: bytes, remote: bool) -> Optional[str]:
    """What the first bytes and the zip directory already tell, if anything."""
    if not head:
        return 'empty file (0 bytes): the save was interrupted before any data'
    if head.startswith(ZIP_MAGIC):
        if remote:
            return None
        try:
            zipfile.ZipFile(path).close()
        except (zipfile.BadZipFile, OSError, ValueError):
            size = osp.getsize(path)
            return (f'truncated: a zip archive (torch.save format) of {size} bytes '
                    'without its end; the save was interrupted (killed, or the disk '
                    'was full)')
        return None
    if head[0] != PICKLE_PROTO:
        return (f'not a checkpoint: starts with {head!r}, while torch.save writes a zip '
                "archive (b'PK\\x03\\x04...')")
    return None  # a legacy torch file or a plain pickle: torch.load decides


def describe_load_error(exc: BaseException, head: bytes) -> str:
    """The problem behind ``torch.load``'s exception, in words."""
    text = str(exc)
    refused = re.search(r'unsupported GLOBAL (\S+)|Unsupported global: GLOBAL (\S+)', text)
    if refused:
        name = (refused.group(1) or refused.group(2)).rstrip('.,')
        return (f'code-executing pickle refused: it asks for {name}, which loading would '
                'import and call (weights-only loading allows tensors, containers, numpy '
                "arrays and mmengine's HistoryBuffer). Load it with weights_only=False "
                'only if you trust where it came from, and re-save its tensors')
    if 'Unsupported operand' in text or isinstance(exc, KeyError):
        return ('not a checkpoint: a pickle that torch.save did not write '
                f'({type(exc).__name__}: {text.splitlines()[0] if text else ""})')
    if isinstance(exc, EOFError) or 'unexpected EOF' in text or 'truncated' in text:
        return f'truncated: {text.splitlines()[0] if text else "unexpected end of file"}'
    first = text.strip().splitlines()[0] if text.strip() else ''
    return f'corrupt or unreadable ({type(exc).__name__}: {first})'


def write_atomically(data: bytes, path: str) -> None:
    """Write ``data`` to ``path`` so that ``path`` is never seen part-written.

    The bytes go to a hidden temporary file in the same folder (same file system),
    which is flushed and fsynced, then renamed over ``path``; the folder is fsynced
    so the rename survives a power loss. On any error the temporary file is removed
    and ``path`` is untouched.
    """
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = osp.join(folder, f'.{osp.basename(path)}.tmp-{os.getpid()}')
    try:
        with open(tmp, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_dir(folder)


def _fsync_dir(folder: str) -> None:
    """Persist a rename in ``folder`` (not possible on every OS / file system)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _load_local(filename: str, map_location: MapLocation = None):
    """mmengine's loader of local checkpoints, replaced by :func:`read_checkpoint`."""
    return read_checkpoint(filename, map_location=map_location)


CheckpointLoader.register_scheme(prefixes='', loader=_load_local, force=True)
