"""Checkpoint files in, converted checkpoint files out (used by the tools).

A converted file is a ``torch.save`` checkpoint (``.pth``) or a ``.safetensors``
file: the format is chosen by ``fmt`` or, when not given, by the file's suffix.
safetensors holds one flat tensor dict, so the target's layout is flattened
(``{'model': keys}`` -> keys, ``{'state_dict': {'backbone.' + key}}`` ->
``backbone.`` keys, as timm / mmengine read a flat dict), and its metadata (str ->
str) keeps the load report as JSON under :data:`REPORT_KEY`
(:func:`read_load_report` gives it back). A ``.safetensors`` source is read too.
"""
import dataclasses
import inspect
import json
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

import torch

from mmmim.checkpoint_io import (
    CheckpointError,
    MissingCheckpointError,
    read_checkpoint,
    write_atomically,
)

from .common import StateDict, get_converter, split_backbone
from .initializer import detect_family
from .report import LoadReport


def save_layout(converted: StateDict, layout: str) -> dict:
    """The file a target library reads (see ``register_converter(file_layout=...)``):
    ``'model'`` -> ``{'model': keys}``; ``'backbone'`` -> ``{'state_dict':
    {'backbone.' + key}}`` (``load_from``, ``Pretrained(prefix='backbone.')``, mmdet /
    mmseg Swin); ``'stripped'`` -> ``{'state_dict': keys}`` (mmseg's MAE backbone,
    which ignores ``prefix``)."""
    if layout == 'model':
        return {'model': converted}
    if layout == 'backbone':
        return {'state_dict': {f'backbone.{k}': v for k, v in converted.items()}}
    return {'state_dict': converted}


FORMATS = ('pth', 'safetensors')
#: safetensors metadata key holding the load report (JSON of LoadReport's fields).
REPORT_KEY = 'mmmim_load_report'


def format_of(path: str, fmt: Optional[str] = None) -> str:
    """``fmt`` when given, else ``'safetensors'`` for a ``.safetensors`` path, else
    ``'pth'`` (``torch.save``)."""
    if fmt is None:
        return 'safetensors' if str(path).endswith('.safetensors') else 'pth'
    if fmt not in FORMATS:
        raise ValueError(f'format must be one of {FORMATS}, got {fmt!r}')
    return fmt


def flat_layout(converted: StateDict, layout: str) -> StateDict:
    """The tensors of :func:`save_layout`'s file as one flat dict (safetensors):
    the keys a target reads after unwrapping ``'model'`` / ``'state_dict'``."""
    (state,) = save_layout(converted, layout).values()
    return state


def report_metadata(report: LoadReport, **extra) -> Dict[str, str]:
    """safetensors metadata: ``format`` (``'pt'``, what timm and transformers
    expect), the load report as JSON under :data:`REPORT_KEY`, and ``extra``
    entries as strings."""
    meta = {'format': 'pt', REPORT_KEY: json.dumps(dataclasses.asdict(report))}
    meta.update({key: str(value) for key, value in extra.items()})
    return meta


def own_storages(state: StateDict) -> StateDict:
    """The tensors, each contiguous in a storage of its own (safetensors refuses
    tensors sharing memory): views of a storage already seen are copied."""
    seen, out = set(), {}
    for key, value in state.items():
        value = value.detach()
        ptr = value.untyped_storage().data_ptr()
        if (ptr and ptr in seen) or not value.is_contiguous():
            value = value.clone(memory_format=torch.contiguous_format)
        seen.add(value.untyped_storage().data_ptr())
        out[key] = value
    return out


def save_safetensors(state: StateDict, path: str, metadata: Dict[str, str]) -> None:
    """Write ``state`` as a ``.safetensors`` file, atomically (the old file or the
    complete new one, never a part)."""
    from safetensors.torch import save
    write_atomically(save(own_storages(state), metadata=metadata), str(path))


def _safe_open(path: str):
    from safetensors import safe_open
    if not Path(path).is_file():
        what = 'is a directory' if Path(path).is_dir() else 'does not exist'
        raise MissingCheckpointError(str(path), f'the file {what}')
    try:
        return safe_open(str(path), framework='pt', device='cpu')
    except Exception as exc:  # safetensors raises its own error types
        raise CheckpointError(str(path), f'not a readable safetensors file '
                              f'({type(exc).__name__}: {exc})') from exc


def read_safetensors(path: str) -> Tuple[StateDict, Dict[str, str]]:
    """(tensors, metadata) of a ``.safetensors`` file; CheckpointError naming the
    file when it is missing or unreadable."""
    with _safe_open(path) as f:
        return {key: f.get_tensor(key) for key in f.keys()}, dict(f.metadata() or {})


def read_load_report(path: str) -> Optional[LoadReport]:
    """The load report a converter stored in a ``.safetensors`` file's metadata
    (None when the file carries none)."""
    with _safe_open(path) as f:
        text = (f.metadata() or {}).get(REPORT_KEY)
    return LoadReport(**json.loads(text)) if text else None


def read_source(path: str) -> dict:
    """A checkpoint to convert: a ``.safetensors`` file's flat tensor dict, any
    other file through :func:`read_checkpoint`."""
    if str(path).endswith('.safetensors'):
        return read_safetensors(path)[0]
    return read_checkpoint(path)


def patch_size_of(checkpoint: dict) -> Optional[int]:
    """Patch side of a checkpoint's patch embedding, when it has one."""
    backbone, _, _ = split_backbone(checkpoint)
    weight = backbone.get('patch_embed.projection.weight')
    return int(weight.shape[-1]) if weight is not None else None


def convert_file(src: str, dst: str, target: str, family: Optional[str] = None,
                 img_size: Optional[Sequence[int]] = None,
                 window_size: Optional[Sequence[int]] = None,
                 fmt: Optional[str] = None) -> Tuple[StateDict, LoadReport]:
    """Convert ``src`` to ``dst`` for ``target``; raise ConversionError (nothing
    written) unless the whole backbone converted. ``img_size`` resizes absolute
    position embeddings, ``window_size`` (one, or one per stage) bias tables;
    ``fmt`` (``'pth'`` / ``'safetensors'``, default from ``dst``'s suffix) is the
    file format (see :func:`save_converted`)."""
    fmt = format_of(dst, fmt)
    checkpoint = read_source(src)
    family = family or detect_family(checkpoint)
    converter = get_converter(family, target)
    accepted = inspect.signature(converter).parameters
    kwargs = {}
    if window_size:
        if 'window_size' not in accepted:
            raise ValueError(f'--window-size does not apply to {family}')
        kwargs['window_size'] = window_size[0] if len(window_size) == 1 else list(window_size)
    if img_size:
        size = tuple(img_size) * (2 // len(img_size))
        patch = patch_size_of(checkpoint)
        if patch is None or 'grid' not in accepted:
            raise ValueError('--img-size needs a checkpoint with an absolute position '
                             'embedding (patch_embed.projection)')
        kwargs['grid'] = (size[0] // patch, size[1] // patch)
    converted, report = converter(checkpoint, **kwargs)
    report.source += f' from {src}'
    if converter.expected_missing:
        report.notes.append('the target initializes its keys matching '
                            + ', '.join(converter.expected_missing))
    report.check()
    save_converted(converted, report, dst, converter.file_layout, fmt)
    return converted, report


def save_converted(converted: StateDict, report: LoadReport, dst: str, layout: str,
                   fmt: str = 'pth') -> None:
    """Write a conversion: ``torch.save`` of :func:`save_layout`, or a
    ``.safetensors`` file of :func:`flat_layout` with the report in its metadata."""
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    if format_of(dst, fmt) == 'safetensors':
        save_safetensors(flat_layout(converted, layout), dst,
                         report_metadata(report, mmmim_converter=report.converter,
                                         mmmim_layout=layout))
    else:
        torch.save(save_layout(converted, layout), dst)


def convert_file_cli(src: str, dst: str, target: str, family: Optional[str] = None,
                     **kwargs) -> int:
    """:func:`convert_file` for command-line tools: prints the load report, or the
    reason on stderr; returns the exit status (1 on failure, nothing written)."""
    import sys

    from .report import ConversionError
    try:
        _, report = convert_file(src, dst, target, family, **kwargs)
    except (CheckpointError, ConversionError, ValueError, KeyError) as err:
        print(f'conversion failed: {err}', file=sys.stderr)
        return 1
    print(report.summary())
    print(f'saved {len(report.matched)} tensors to {dst}')
    return 0
