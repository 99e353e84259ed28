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
from typing import Dict, List, Optional, Sequence, Tuple

from .common import StateDict, backbone_and_report, guess_family, register_converter
from .pos_embed import Grid, resize_abs_pos_embed
from .report import LoadReport

_PART = re.compile(r'^layers\.(\d+)\.([012])\.(.+)$')
_BLOCK = re.compile(r'^(\d+)\.(.+)$')
REQUIRED_BLOCK_PARAMS = ('norm1.weight', 'attn.attn.in_proj_weight', 'attn.attn.out_proj.weight',
                         'norm2.weight', 'ffn.layers.0.weight', 'ffn.layers.3.weight')
PRETRAIN_ONLY = {'secondary_token': 'UM-MAE secondary token (pretraining only)',
                 'mask_token': 'SimMIM mask token (pretraining only)'}
PVT_S_SR_RATIOS = (8, 4, 2, 1)


def parse_pvt(checkpoint: dict, converter: str) -> Tuple[StateDict, LoadReport, List[int]]:
    """Recognise PVT tensors. Returns (tensors, report, blocks per stage)."""
    backbone, report = backbone_and_report(checkpoint, converter)
    pvt, blocks = {}, {}
    for key, value in backbone.items():
        part = _PART.match(key)
        if key in PRETRAIN_ONLY:
            report.dropped_on_purpose[key] = PRETRAIN_ONLY[key]
        elif re.match(r'^norm\.(weight|bias)$', key):
            pvt[key] = value
        elif part:
            pvt[key] = value
            block = _BLOCK.match(part.group(3)) if part.group(2) == '1' else None
            if block and block.group(1) != '0':
                stage = blocks.setdefault(int(part.group(1)), {})
                stage.setdefault(int(block.group(1)), set()).add(block.group(2))
        else:
            report.unexpected.append(key)
    if not blocks:
        report.unexpected += sorted(pvt)
        pvt = {}
        family = guess_family(list(backbone))
        report.notes.append(f'{len(backbone)} tensors after prefix stripping, none of them '
                            'PVT keys' + (f'; they look like {family}' if family else ''))
    depths = [len(blocks.get(s, {})) for s in range(max(blocks, default=-1) + 1)]
    report.missing = _incomplete(pvt, blocks, depths)
    if pvt:
        report.notes.append(f'PVT with depths {depths}')
    return pvt, report, depths


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


def _sr_to_conv(pvt: StateDict, sr_ratios: Sequence[int], report: LoadReport) -> None:
    """Pooled 1x1 SR weights -> strided r x r kernels (``W / r**2`` tiled)."""
    for key, value in list(pvt.items()):
        part = _PART.match(key)
        if part and key.endswith('attn.sr.weight') and value.shape[-1] == 1:
            r = sr_ratios[int(part.group(1))]
            pvt[key] = value.expand(-1, -1, r, r) / r**2
    report.notes.append(f'spatial reduction as strided convs for sr_ratios {tuple(sr_ratios)}')


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
        _sr_to_conv(pvt, sr_ratios or PVT_S_SR_RATIOS[-len(depths):], report)
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
