"""Checkpoint files in, converted checkpoint files out (used by the tools)."""
import inspect
from pathlib import Path
from typing import Optional, Sequence, Tuple

import torch

from mmmim.checkpoint_io import CheckpointError, read_checkpoint

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


def patch_size_of(checkpoint: dict) -> Optional[int]:
    """Patch side of a checkpoint's patch embedding, when it has one."""
    backbone, _, _ = split_backbone(checkpoint)
    weight = backbone.get('patch_embed.projection.weight')
    return int(weight.shape[-1]) if weight is not None else None


def convert_file(src: str, dst: str, target: str, family: Optional[str] = None,
                 img_size: Optional[Sequence[int]] = None,
                 window_size: Optional[Sequence[int]] = None) -> Tuple[StateDict, LoadReport]:
    """Convert ``src`` to ``dst`` for ``target``; raise ConversionError (nothing
    written) unless the whole backbone converted. ``img_size`` resizes absolute
    position embeddings, ``window_size`` (one, or one per stage) bias tables."""
    checkpoint = read_checkpoint(src)
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
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    torch.save(save_layout(converted, converter.file_layout), dst)
    return converted, report


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
