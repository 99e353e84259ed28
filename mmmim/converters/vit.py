"""ViT converters: mmmim ``MaskedViT`` (= mmpretrain VisionTransformer keys) to
timm, mmpretrain, mmseg (BEiT-style ``MAE`` backbone) and mmdet (ViTDet, timm keys).

Source keys (mm layout, after the prefix is stripped)::

    patch_embed.projection.{weight,bias}, cls_token, pos_embed, [pre_norm.*],
    layers.i.{ln1, attn.qkv, attn.proj, ln2, ffn.layers.0.0, ffn.layers.1}.*,
    ln1.* (final norm), ln2.* (norm after average pooling)

``secondary_token`` / ``mask_token`` are pretraining-only and dropped on purpose.
"""
import re
from typing import Dict, List, Optional, Tuple

from mmmim.models.pos_embed import Grid, resize_abs_pos_embed

from .common import StateDict, parse_backbone, register_converter, reject_unrecognised
from .report import LoadReport

_BLOCK = re.compile(r'^layers\.(\d+)\.(.+)$')
REQUIRED_BLOCK_PARAMS = ('ln1.weight', 'attn.qkv.weight', 'attn.proj.weight', 'ln2.weight',
                         'ffn.layers.0.0.weight', 'ffn.layers.1.weight')
BLOCK_PARAMS = REQUIRED_BLOCK_PARAMS + tuple(
    p.replace('weight', 'bias') for p in REQUIRED_BLOCK_PARAMS)
STEM = ('patch_embed.projection.weight', 'pos_embed')
TOP_LEVEL = STEM + ('patch_embed.projection.bias', 'cls_token', 'pre_norm.weight',
                    'pre_norm.bias', 'ln1.weight', 'ln1.bias', 'ln2.weight', 'ln2.bias')


def parse_vit(checkpoint: dict, converter: str) -> Tuple[StateDict, LoadReport]:
    """Recognise mm-layout ViT tensors; everything else is dropped or unexpected.

    The report fails (``check``) when the stem or any block tensor is missing,
    blocks are not numbered 0..N-1, or nothing was recognised.
    """
    vit, report, backbone = parse_backbone(checkpoint, converter, _is_vit_key)
    layers = {}
    for key in vit:
        block = _BLOCK.match(key)
        if block:
            layers.setdefault(int(block.group(1)), set()).add(block.group(2))
    if not layers:  # a ViT without blocks is not a ViT: nothing matched
        vit = reject_unrecognised(vit, report, backbone, 'ViT (mm layout)')
    report.missing = _incomplete(vit, layers)
    if vit:
        report.notes.append(f'ViT with {len(layers)} blocks, width '
                            f'{vit[STEM[0]].shape[0] if STEM[0] in vit else "?"}')
    return vit, report


def _is_vit_key(key: str) -> bool:
    block = _BLOCK.match(key)
    return key in TOP_LEVEL or bool(block and block.group(2) in BLOCK_PARAMS)


def _incomplete(vit: StateDict, layers: Dict[int, set]) -> List[str]:
    """Source keys a complete ViT backbone must have but this one lacks."""
    if not vit:
        return []
    missing = [k for k in STEM if k not in vit]
    first = layers.get(0, set()) | set(REQUIRED_BLOCK_PARAMS)
    for i in range(max(layers, default=-1) + 1):
        missing += [f'layers.{i}.{p}' for p in sorted(first - layers.get(i, set()))]
    return missing


def _resize(vit: StateDict, report: LoadReport, grid: Optional[Grid],
            src_grid: Optional[Grid]) -> None:
    """Resize ``pos_embed`` in place to ``grid`` (class token kept)."""
    if grid is None or 'pos_embed' not in vit:
        return
    extra = 1 if 'cls_token' in vit else 0
    before = tuple(vit['pos_embed'].shape)
    vit['pos_embed'] = resize_abs_pos_embed(vit['pos_embed'], tuple(grid), src_grid, extra)
    if tuple(vit['pos_embed'].shape) != before:
        report.notes.append(f'pos_embed resized (bicubic) {before} -> '
                            f'{tuple(vit["pos_embed"].shape)} for a {grid} patch grid')


def _rename(vit: StateDict, rules: List[Tuple[str, str]]) -> StateDict:
    out = {}
    for key, value in vit.items():
        for pattern, repl in rules:
            key = re.sub(pattern, repl, key)
        out[key] = value
    return out


TIMM_RULES = [
    (r'^patch_embed\.projection\.', 'patch_embed.proj.'),
    (r'^layers\.(\d+)\.ln1\.', r'blocks.\1.norm1.'),
    (r'^layers\.(\d+)\.ln2\.', r'blocks.\1.norm2.'),
    (r'^layers\.(\d+)\.ffn\.layers\.0\.0\.', r'blocks.\1.mlp.fc1.'),
    (r'^layers\.(\d+)\.ffn\.layers\.1\.', r'blocks.\1.mlp.fc2.'),
    (r'^layers\.', 'blocks.'),
    (r'^ln1\.', 'norm.'),            # final norm
    (r'^ln2\.', 'fc_norm.'),         # norm after average pooling
    (r'^pre_norm\.', 'norm_pre.'),
]


def _convert(checkpoint: dict, name: str, rules, optional: Dict[str, str],
             grid: Optional[Grid], src_grid: Optional[Grid]) -> Tuple[StateDict, LoadReport]:
    vit, report = parse_vit(checkpoint, name)
    _resize(vit, report, grid, src_grid)
    converted = _rename(vit, rules)
    report.matched = sorted(converted)
    report.optional = {k: r for k, r in optional.items() if k in converted}
    return converted, report


@register_converter('vit', 'timm', expected_missing=(r'^head\.',), file_layout='model')
def vit_to_timm(checkpoint: dict, grid: Optional[Grid] = None,
                src_grid: Optional[Grid] = None) -> Tuple[StateDict, LoadReport]:
    """ViT -> timm ``VisionTransformer`` (``vit_*_patch16_224`` keys)."""
    optional = {'fc_norm.weight': 'target pools without fc_norm',
                'fc_norm.bias': 'target pools without fc_norm'}
    return _convert(checkpoint, 'vit->timm', TIMM_RULES, optional, grid, src_grid)


@register_converter('vit', 'mmdet', expected_missing=(r'^head\.', r'rel_pos'),
                    file_layout='model')
def vit_to_mmdet(checkpoint: dict, grid: Optional[Grid] = None,
                 src_grid: Optional[Grid] = None) -> Tuple[StateDict, LoadReport]:
    """ViT -> mmdet's ViTDet project backbone, which reads timm keys (saved under
    ``'model'``); its relative position tables are initialized by the target."""
    optional = {k: 'ViTDet uses neither the final norm nor fc_norm'
                for k in ('norm.weight', 'norm.bias', 'fc_norm.weight', 'fc_norm.bias')}
    return _convert(checkpoint, 'vit->mmdet', TIMM_RULES, optional, grid, src_grid)


_MM_OPTIONAL = {'ln1.weight': 'target has no final norm (final_norm=False)',
                'ln1.bias': 'target has no final norm (final_norm=False)',
                'ln2.weight': 'target does not average-pool (no ln2)',
                'ln2.bias': 'target does not average-pool (no ln2)'}


@register_converter('vit', 'mmpretrain', expected_missing=(r'^head\.', r'^ln2\.'),
                    file_layout='backbone')
def vit_to_mmpretrain(checkpoint: dict, grid: Optional[Grid] = None,
                      src_grid: Optional[Grid] = None) -> Tuple[StateDict, LoadReport]:
    """ViT -> mmpretrain ``VisionTransformer`` (same keys; prefix, pretraining-only
    tensors and resizing handled). ``ln2`` (norm after average pooling, MAE's global
    pool fine-tuning) is initialized by the target when the source has none."""
    return _convert(checkpoint, 'vit->mmpretrain', [], _MM_OPTIONAL, grid, src_grid)


@register_converter('vit', 'mmseg', expected_missing=(
    r'\.gamma_[12]$', r'\.relative_position_bias_table$', r'\.relative_position_index$'))
def vit_to_mmseg(checkpoint: dict, grid: Optional[Grid] = None,
                 src_grid: Optional[Grid] = None) -> Tuple[StateDict, LoadReport]:
    """ViT -> mmseg's BEiT-style ``MAE`` backbone: the same keys as mmpretrain's
    ViT; layer scale (``gamma_1/2``, ``init_values``) and the zero-initialized
    relative position bias are new in the target. mmseg's MAE does not resize its
    position embedding at run time, so give ``grid`` for the segmentation crop."""
    return _convert(checkpoint, 'vit->mmseg', [], _MM_OPTIONAL, grid, src_grid)


@register_converter('vit', 'vitdet', expected_missing=(r'^layers\.\d+\.attn\.rel_pos_[hw]$',),
                    file_layout='backbone')
def vit_to_vitdet(checkpoint: dict, grid: Optional[Grid] = None,
                  src_grid: Optional[Grid] = None) -> Tuple[StateDict, LoadReport]:
    """ViT -> mmmim's ``ViTDetBackbone`` (mmpretrain keys): only the decomposed
    relative position tables ``layers.i.attn.rel_pos_h/w`` are new (zero-initialized
    by the target); every other backbone tensor must match. ``grid`` is the
    backbone's stored position grid (the pretraining one: it resizes at forward)."""
    optional = {k: 'ViTDet has no final norm' for k in ('ln1.weight', 'ln1.bias')}
    optional.update({k: 'ViTDet does not average-pool (no ln2)'
                     for k in ('ln2.weight', 'ln2.bias')})
    return _convert(checkpoint, 'vit->vitdet', [], optional, grid, src_grid)
