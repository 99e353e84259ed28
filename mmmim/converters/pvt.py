"""PVT (v1) converters: mmmim ``MaskedPVT`` (= mmdet PyramidVisionTransformer keys)
to mmdet, and to mmpretrain classifiers. timm, mmpretrain and mmseg have no PVT v1
(timm's ``pvt_v2`` is another architecture): mmdet's PVT is the detection target,
and mmpretrain's ``ImageClassifier`` takes our ``MaskedPVT`` itself as its backbone
(``out_indices=(3,)``, ``out_final_norm=True``: a tuple with the last stage normed,
as the original PVT classifies), so ``pvt->mmpretrain`` keeps every key and shape.

Source keys (after the prefix is stripped)::

    layers.i.0.{projection, norm}.*          stage i patch embedding
    layers.i.1.0.pos_embed                   stage i absolute positions [1, h*w, C]
    layers.i.1.j.{norm1, attn.attn.{in_proj_*, out_proj.*}, attn.sr.*, attn.norm.*,
                  norm2, ffn.layers.{0,3}.*}  block j - 1 of stage i
    norm.*                                   final norm (mmdet builds none)

Our spatial reduction is average pooling then a 1x1 conv (``[C, C, 1, 1]``); it
becomes mmdet's strided ``[C, C, r, r]`` conv for the target's ratios, exactly.
mmdet's PVT reads ``state_dict`` keys without a prefix (a raw pretraining
checkpoint given to its ``init_cfg`` would load nothing). For ``pvt->mmpretrain`` the
pooled form stays (it serves any ratio), and a target without the final norm
(``final_norm=False``) has it listed as dropped on purpose.
"""
import re
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from mmmim.models.pos_embed import Grid, resize_abs_pos_embed

from .common import StateDict, parse_backbone, parse_pyramid, register_converter
from .report import LoadReport

_PART = re.compile(r'^layers\.(\d+)\.([012])\.(.+)$')
_BLOCK = re.compile(r'^(\d+)\.(.+)$')
_FINAL_NORM = re.compile(r'^norm\.(weight|bias)$')
REQUIRED_BLOCK_PARAMS = ('norm1.weight', 'attn.attn.in_proj_weight', 'attn.attn.out_proj.weight',
                         'norm2.weight', 'ffn.layers.0.weight', 'ffn.layers.3.weight')
PVT_S_SR_RATIOS = (8, 4, 2, 1)


def parse_pvt(checkpoint: dict, converter: str) -> Tuple[StateDict, LoadReport, List[int]]:
    """Recognise PVT tensors. Returns (tensors, report, blocks per stage)."""
    pvt, report, backbone = parse_backbone(
        checkpoint, converter, lambda key: bool(_FINAL_NORM.match(key) or _PART.match(key)))
    return parse_pyramid(pvt, report, backbone, _locate_block, 'PVT', 'PVT', _incomplete)


def _locate_block(key: str) -> Optional[Tuple[int, int, str]]:
    """(stage, block, parameter name) of a transformer-block tensor (block 0 of a
    stage's part 1 is its patch embedding, not a block), else None."""
    part = _PART.match(key)
    block = _BLOCK.match(part.group(3)) if part and part.group(2) == '1' else None
    if block and block.group(1) != '0':
        return int(part.group(1)), int(block.group(1)), block.group(2)
    return None


def _incomplete(pvt: StateDict, blocks: Dict[int, Dict[int, set]], depths: List[int]
                ) -> List[str]:
    if not pvt:
        return []
    missing = []
    for s, depth in enumerate(depths):
        if f'layers.{s}.0.projection.weight' not in pvt:
            missing.append(f'layers.{s}.0.projection.weight')
        stage = blocks.get(s, {})
        for j in range(1, depth + 1):
            missing += [f'layers.{s}.1.{j}.{p}' for p in REQUIRED_BLOCK_PARAMS
                        if p not in stage.get(j, set())]
    return missing


def pooled_sr_to_conv(state_dict: StateDict, sr_ratios: Sequence[int],
                      prefix: str = '') -> 'OrderedDict[str, torch.Tensor]':
    """Our pooled SR weights ``[C, C, 1, 1]`` -> mmdet's strided-conv kernels
    ``[C, C, r, r]`` (``W / r**2`` tiled: avg-pool then 1x1 conv equals that conv),
    so a pretrained encoder loads into mmdet's PyramidVisionTransformer with
    ``sr_ratios`` exactly. Keys under ``prefix`` (``'layers.i. ...'`` after it)."""
    out = OrderedDict()
    for key, value in state_dict.items():
        part = _PART.match(key[len(prefix):]) if key.startswith(prefix) else None
        if part and key.endswith('attn.sr.weight') and value.shape[-1] == 1:
            r = sr_ratios[int(part.group(1))]
            value = value.expand(-1, -1, r, r) / r**2
        out[key] = value
    return out


def _resize_positions(pvt: StateDict, grids: Optional[Sequence[Grid]],
                      report: LoadReport) -> None:
    for s, grid in enumerate(grids or ()):
        key = f'layers.{s}.1.0.pos_embed'
        if key in pvt and grid is not None:
            before = tuple(pvt[key].shape)
            pvt[key] = resize_abs_pos_embed(pvt[key], tuple(grid), num_extra_tokens=0)
            if tuple(pvt[key].shape) != before:
                report.notes.append(f'{key} resized (bicubic) {before} -> '
                                    f'{tuple(pvt[key].shape)}')


@register_converter('pvt', 'mmdet', expected_missing=(r'^layers\.\d+\.2\.',))
def pvt_to_mmdet(checkpoint: dict, sr_ratios: Optional[Sequence[int]] = None,
                 grids: Optional[Sequence[Grid]] = None) -> Tuple[StateDict, LoadReport]:
    """PVT -> mmdet ``PyramidVisionTransformer`` (``convert_weights=False``).

    Args:
        sr_ratios: the target's spatial-reduction ratios (PVT-S 8/4/2/1 by default).
        grids: per-stage position grids of the target (resized when they differ).
    """
    pvt, report, depths = parse_pvt(checkpoint, 'pvt->mmdet')
    if pvt:
        ratios = tuple(sr_ratios or PVT_S_SR_RATIOS[-len(depths):])
        pvt = dict(pooled_sr_to_conv(pvt, ratios))
        report.notes.append(f'spatial reduction as strided convs for sr_ratios {ratios}')
        _resize_positions(pvt, grids, report)
    report.matched = sorted(pvt)
    report.optional = {k: 'final norm (mmdet builds none)' for k in pvt if k.startswith('norm.')}
    return pvt, report


@register_converter('pvt', 'mmpretrain', expected_missing=(r'^head\.',), file_layout='backbone')
def pvt_to_mmpretrain(checkpoint: dict, sr_ratios: Optional[Sequence[int]] = None,
                      grids: Optional[Sequence[Grid]] = None) -> Tuple[StateDict, LoadReport]:
    """PVT -> ``MaskedPVT`` as an mmpretrain ``ImageClassifier`` backbone (same keys).

    Args:
        sr_ratios: the target's spatial-reduction ratios; the pooled 1x1 reductions
            are ratio-independent and kept as they are (only noted).
        grids: per-stage position grids of the target (resized when they differ).
    """
    pvt, report, _ = parse_pvt(checkpoint, 'pvt->mmpretrain')
    if pvt:
        pooled = all(v.shape[-1] == 1 for k, v in pvt.items() if k.endswith('attn.sr.weight'))
        ratios = f' for sr_ratios {tuple(sr_ratios)}' if sr_ratios else ''
        report.notes.append(f'spatial reduction kept as pooled 1x1 convs (ratio-independent)'
                            f'{ratios}' if pooled else 'spatial reduction given as strided '
                            'convs (an mmdet PVT checkpoint?): MaskedPVT needs the pooled '
                            '1x1 form')
        _resize_positions(pvt, grids, report)
    report.matched = sorted(pvt)
    report.optional = {k: 'final norm (the target has final_norm=False)'
                       for k in pvt if k.startswith('norm.')}
    return pvt, report
