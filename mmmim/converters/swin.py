"""Swin converters: mmmim ``MaskedSwin`` (= mmpretrain SwinTransformer keys) to
timm, mmpretrain, mmdet and mmseg.

Source keys (mm layout, after the prefix is stripped)::

    patch_embed.{projection,norm}.*, [absolute_pos_embed],
    stages.s.blocks.b.{norm1, attn.w_msa.{qkv, proj, relative_position_bias_table},
                       norm2, ffn.layers.0.0, ffn.layers.1}.*,
    stages.s.downsample.{norm, reduction}.*  (patch merging at the end of stage s),
    norm{i}.* (output norm of stage i)

mmdet and mmseg use the same keys (their Swin is mmpretrain's ancestor). timm puts the
patch merging at the start of the next stage and concatenates the 2x2 neighbours in
another order (see :func:`merging_permutation`). ``relative_position_index`` buffers
are rebuilt by every target; relative position bias tables are resized when the
target's window differs.
"""
import re
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch

from mmmim.models.pos_embed import resize_rel_pos_bias_table

from .common import StateDict, parse_backbone, parse_pyramid, register_converter
from .report import LoadReport

_BLOCK = re.compile(r'^stages\.(\d+)\.blocks\.(\d+)\.(.+)$')
_MERGE = re.compile(r'^stages\.(\d+)\.downsample\.(norm\.weight|norm\.bias|reduction\.weight)$')
_TABLE = 'attn.w_msa.relative_position_bias_table'
REQUIRED_BLOCK_PARAMS = ('norm1.weight', 'norm1.bias', 'attn.w_msa.qkv.weight',
                         'attn.w_msa.proj.weight', 'norm2.weight', 'norm2.bias',
                         'ffn.layers.0.0.weight', 'ffn.layers.1.weight', _TABLE)
BLOCK_PARAMS = REQUIRED_BLOCK_PARAMS + ('attn.w_msa.qkv.bias', 'attn.w_msa.proj.bias',
                                        'ffn.layers.0.0.bias', 'ffn.layers.1.bias')
TOP_LEVEL = re.compile(r'^(patch_embed\.(projection|norm)\.(weight|bias)|absolute_pos_embed'
                       r'|norm\d+\.(weight|bias))$')
Window = Union[int, Sequence[int], None]


def parse_swin(checkpoint: dict, converter: str) -> Tuple[StateDict, LoadReport, List[int]]:
    """Recognise mm-layout Swin tensors. Returns (tensors, report, blocks per stage)."""
    swin, report, backbone = parse_backbone(checkpoint, converter, _swin_verdict)
    return parse_pyramid(swin, report, backbone, _locate_block, 'Swin (mm layout)', 'Swin',
                         _incomplete)


def _locate_block(key: str) -> Optional[Tuple[int, int, str]]:
    """(stage, block, parameter name) of a block tensor, else None."""
    block = _BLOCK.match(key)
    return (int(block.group(1)), int(block.group(2)), block.group(3)) if block else None


def _swin_verdict(key: str) -> Union[bool, str]:
    block = _BLOCK.match(key)
    if block and block.group(3).endswith('relative_position_index'):
        return 'index buffer (rebuilt by the target)'
    return bool(TOP_LEVEL.match(key) or _MERGE.match(key)
                or (block and block.group(3) in BLOCK_PARAMS))


def _incomplete(swin: StateDict, blocks: Dict[int, Dict[int, set]],
                depths: List[int]) -> List[str]:
    if not swin:
        return []
    missing = [] if 'patch_embed.projection.weight' in swin else ['patch_embed.projection.weight']
    for s, depth in enumerate(depths):
        stage = blocks.get(s, {})
        if not depth:
            missing.append(f'stages.{s}.blocks.*')
        for b in range(max(stage, default=-1) + 1):
            have = stage.get(b, set())
            missing += [f'stages.{s}.blocks.{b}.{p}' for p in REQUIRED_BLOCK_PARAMS
                        if p not in have]
        if s < len(depths) - 1:
            missing += [f'stages.{s}.downsample.{p}' for p in ('norm.weight', 'reduction.weight')
                        if f'stages.{s}.downsample.{p}' not in swin]
    return missing


def _resize_tables(swin: StateDict, report: LoadReport, window: Window) -> None:
    """Resize every stage's bias tables to ``window`` (one int, or one per stage)."""
    if window is None:
        return
    for key, table in list(swin.items()):
        if key.endswith(_TABLE):
            stage = int(_BLOCK.match(key).group(1))
            w = window if isinstance(window, int) else window[stage]
            swin[key] = resize_rel_pos_bias_table(table, (w, w))
            if swin[key].shape != table.shape:
                report.notes.append(f'{key}: bias table resized (bicubic) '
                                    f'{tuple(table.shape)} -> {tuple(swin[key].shape)}')


def merging_permutation(channels: int) -> torch.Tensor:
    """Index ``p`` with ``timm_vector = mm_vector[p]`` for a patch-merging input of
    ``4 * channels``: mm unfolds channel-major (c, then offsets (0,0) (0,1) (1,0)
    (1,1) as (row, col)); timm concatenates offsets (0,0) (1,0) (0,1) (1,1), each
    with all channels."""
    mm_offset = torch.tensor([0, 2, 1, 3])            # timm offset t -> mm offset index
    c = torch.arange(channels)
    return (c[None, :] * 4 + mm_offset[:, None]).reshape(-1)


def _to_timm(swin: StateDict, depths: List[int], report: LoadReport) -> StateDict:
    last = len(depths) - 1
    out = {}
    for key, value in swin.items():
        merge = _MERGE.match(key)
        norm = re.match(r'^norm(\d+)\.(weight|bias)$', key)
        if merge:
            stage, param = int(merge.group(1)), merge.group(2)
            perm = merging_permutation(value.shape[-1] // 4)
            value = value[..., perm] if param == 'reduction.weight' else value[perm]
            out[f'layers.{stage + 1}.downsample.{param}'] = value
        elif norm:
            if int(norm.group(1)) == last:
                out[f'norm.{norm.group(2)}'] = value
            else:
                report.dropped_on_purpose[key] = 'output norm of an inner stage (not in timm)'
        else:
            key = key.replace('patch_embed.projection.', 'patch_embed.proj.')
            key = re.sub(r'^stages\.(\d+)\.blocks\.', r'layers.\1.blocks.', key)
            key = key.replace('.attn.w_msa.', '.attn.')
            key = key.replace('.ffn.layers.0.0.', '.mlp.fc1.')
            key = key.replace('.ffn.layers.1.', '.mlp.fc2.')
            out[key] = value
    return out


def _convert(checkpoint: dict, name: str, window: Window, timm: bool
             ) -> Tuple[StateDict, LoadReport]:
    swin, report, depths = parse_swin(checkpoint, name)
    _resize_tables(swin, report, window)
    converted = _to_timm(swin, depths, report) if timm else swin
    report.matched = sorted(converted)
    if not timm:
        report.optional = {k: 'output norm the target does not build'
                           for k in converted if re.match(r'^norm\d+\.', k)}
    return converted, report


@register_converter('swin', 'timm', expected_missing=(r'^head\.',), file_layout='model')
def swin_to_timm(checkpoint: dict, window_size: Window = None) -> Tuple[StateDict, LoadReport]:
    """Swin -> timm ``SwinTransformer`` (``swin_*_window7_224`` keys)."""
    return _convert(checkpoint, 'swin->timm', window_size, timm=True)


_MM_MISSING = (r'^norm\d+\.', r'relative_position_index$')


@register_converter('swin', 'mmpretrain', expected_missing=_MM_MISSING + (r'^head\.',),
                    file_layout='backbone')
def swin_to_mmpretrain(checkpoint: dict, window_size: Window = None
                       ) -> Tuple[StateDict, LoadReport]:
    """Swin -> mmpretrain ``SwinTransformer`` (same keys)."""
    return _convert(checkpoint, 'swin->mmpretrain', window_size, timm=False)


@register_converter('swin', 'mmdet', expected_missing=_MM_MISSING, file_layout='backbone')
def swin_to_mmdet(checkpoint: dict, window_size: Window = None) -> Tuple[StateDict, LoadReport]:
    """Swin -> mmdet ``SwinTransformer`` (same keys; build it with
    ``convert_weights=False``). Output norms of extra stages are new."""
    return _convert(checkpoint, 'swin->mmdet', window_size, timm=False)


@register_converter('swin', 'mmseg', expected_missing=_MM_MISSING, file_layout='backbone')
def swin_to_mmseg(checkpoint: dict, window_size: Window = None) -> Tuple[StateDict, LoadReport]:
    """Swin -> mmseg ``SwinTransformer`` (same keys as mmdet's)."""
    return _convert(checkpoint, 'swin->mmseg', window_size, timm=False)
