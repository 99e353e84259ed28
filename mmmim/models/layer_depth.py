"""Layer depth of a backbone parameter, for layer-wise learning-rate decay.

One rule per backbone family, used by the encoders' ``get_layer_depth`` and by
:class:`mmmim.engine.LayerDecayOptimWrapperConstructor` (classification, detection and
segmentation alike). Every rule has mmpretrain's ``get_layer_depth`` signature and
meaning: ``rule(param_name, prefix='') -> (depth, num_depths)`` with the stem at depth
0, block ``k`` (counted across stages) at ``k + 1``, and everything after the blocks
(final norms, and every name outside ``prefix``: neck, heads) at ``num_depths - 1``,
where ``num_depths = number of blocks + 2``. A constructor scales the lr of depth ``d``
by ``rate ** (num_depths - 1 - d)``.

The rules follow the papers' fine-tuning code, which names the stem explicitly and
sends every other name to the top: MAE / BEiT ``get_layer_id_for_vit`` (ViT) and
SimMIM ``get_swin_layer`` (Swin). On mmpretrain's ViT and Swin parameters they give
mmpretrain's ``get_layer_depth`` exactly, including the two names that look like stem
but are not named as such by any of them:

- ViT ``pre_norm`` (the CLIP-style norm before block 0) is at the top, not 0;
- Swin ``absolute_pos_embed`` is at the top, not 0 (SimMIM: not ``mask_token`` /
  ``patch_embed`` / ``layers``, hence ``num_layers - 1``).

(mmmim's rule before this module put both at 0.) Tokens that only pretraining
encoders carry (``mask_token``, ``secondary_token``) and DeiT's ``dist_token`` are
stem, as SimMIM / BEiT put ``mask_token``.

Stage boundaries (SimMIM / mmpretrain convention): a layer that ends stage ``s``
(Swin's patch merging ``stages.s.downsample``, PVT's stage norm ``layers.s.2``) and a
PVT stage's entry (its patch embedding ``layers.s.0`` and positions ``layers.s.1.0``)
share the depth of stage ``s``'s (resp. the previous stage's) last block. UM-MAE's own
fine-tuning models put the merging inside the next stage's first block, one depth
deeper; we keep one convention for both pyramids.

Families (:func:`family_of`): ``vit`` (mmpretrain ``VisionTransformer`` and our
``MaskedViT``, mmseg ``MAE`` / ``BEiT``, timm ``VisionTransformer``, ViTDet-style
``blocks.i`` naming; blocks may be named ``layers.i`` or ``blocks.i``, so
``layers.i.attn.rel_pos_h`` is block i), ``swin`` (mmpretrain / mmdet / mmseg
``SwinTransformer``, ``MaskedSwin``), ``pvt`` (mmdet ``PyramidVisionTransformer`` v1
and v2, ``MaskedPVT``).
"""
import re
from functools import partial
from typing import Callable, List, Optional, Sequence, Tuple

from torch import nn

DepthRule = Callable[..., Tuple[int, int]]

VIT_STEM_NAMES = ('cls_token', 'dist_token', 'mask_token', 'secondary_token', 'pos_embed')
PYRAMID_STEM_NAMES = ('mask_token', 'secondary_token')
_VIT_BLOCK = re.compile(r'(?:layers|blocks)\.(\d+)\.')
_SWIN_PART = re.compile(r'stages\.(\d+)\.(?:blocks\.(\d+)|downsample)\.')
_PVT_PART = re.compile(r'layers\.(\d+)\.(\d+)\.(?:(\d+)\.)?')


def _cumulative(depths: Sequence[int]) -> List[int]:
    out = [0]
    for depth in depths:
        out.append(out[-1] + depth)
    return out


def _framed(param_name: str, prefix: str, num_depths: int,
            inner: Callable[[str], Optional[int]]) -> Tuple[int, int]:
    """The frame every rule shares: a name outside ``prefix`` (neck, head) and a name
    ``inner`` leaves unplaced (None) are at the top, ``num_depths - 1``."""
    depth = inner(param_name[len(prefix):]) if param_name.startswith(prefix) else None
    return (num_depths - 1 if depth is None else depth), num_depths


def vit_layer_depth(param_name: str, prefix: str = '', *, num_blocks: int) -> Tuple[int, int]:
    """ViT: tokens, positions and ``patch_embed*`` -> 0; ``layers.i`` / ``blocks.i``
    -> i + 1; the rest -> ``num_blocks + 1``."""
    def inner(name: str) -> Optional[int]:
        if name in VIT_STEM_NAMES or name.startswith('patch_embed'):
            return 0
        block = _VIT_BLOCK.match(name)
        return int(block.group(1)) + 1 if block else None
    return _framed(param_name, prefix, num_blocks + 2, inner)


def swin_layer_depth(param_name: str, prefix: str = '', *,
                     depths: Sequence[int]) -> Tuple[int, int]:
    """Swin: ``patch_embed*`` and tokens -> 0; ``stages.s.blocks.b`` -> cum[s] + b + 1;
    ``stages.s.downsample`` (patch merging ending stage s) -> cum[s + 1]; the rest
    (``absolute_pos_embed``, ``norm{i}``) -> ``sum(depths) + 1``."""
    cum = _cumulative(depths)

    def inner(name: str) -> Optional[int]:
        if name in PYRAMID_STEM_NAMES or name.startswith('patch_embed'):
            return 0
        part = _SWIN_PART.match(name)
        if not part:
            return None
        stage, block = int(part.group(1)), part.group(2)
        return cum[stage] + int(block) + 1 if block is not None else cum[stage + 1]
    return _framed(param_name, prefix, cum[-1] + 2, inner)


def pvt_layer_depth(param_name: str, prefix: str = '', *, depths: Sequence[int],
                    pos_embed_first: bool) -> Tuple[int, int]:
    """mmdet PVT: stage s is ``layers.s.{0: patch embed, 1: [positions,] blocks,
    2: norm}``. Patch embed and positions -> cum[s] (0 for the stem); block j ->
    cum[s] + j + 1; stage norm -> cum[s + 1]; tokens -> 0; the rest (final ``norm``)
    -> ``sum(depths) + 1``. ``pos_embed_first``: ``layers.s.1.0`` is the position
    embedding (v1, ``use_abs_pos_embed``), not block 0 (v2)."""
    cum = _cumulative(depths)

    def inner(name: str) -> Optional[int]:
        if name in PYRAMID_STEM_NAMES:
            return 0
        part = _PVT_PART.match(name)
        if not part:
            return None
        stage, kind, index = int(part.group(1)), int(part.group(2)), part.group(3)
        if kind != 1:                      # 0: the stage's patch embed, 2: its norm
            return cum[stage] if kind == 0 else cum[stage + 1]
        if index is None:
            return None
        block = int(index) - int(pos_embed_first)
        return cum[stage] + block + 1 if block >= 0 else cum[stage]
    return _framed(param_name, prefix, cum[-1] + 2, inner)


def _vit_rule(backbone: nn.Module) -> DepthRule:
    blocks = getattr(backbone, 'layers', None)
    if blocks is None:
        blocks = backbone.blocks
    return partial(vit_layer_depth, num_blocks=len(blocks))


def _swin_rule(backbone: nn.Module) -> DepthRule:
    return partial(swin_layer_depth, depths=[len(stage.blocks) for stage in backbone.stages])


def _pvt_rule(backbone: nn.Module) -> DepthRule:
    # v1 (use_abs_pos_embed): each stage's sequence starts with its position embedding
    first = [hasattr(stage[1][0], 'pos_embed') for stage in backbone.layers]
    depths = [len(stage[1]) - int(pos) for stage, pos in zip(backbone.layers, first)]
    return partial(pvt_layer_depth, depths=depths, pos_embed_first=all(first))


FAMILY_RULES = dict(vit=_vit_rule, swin=_swin_rule, pvt=_pvt_rule)

# Backbone classes (``module.QualName``; subclasses included) -> family.
FAMILY_OF_CLASS = {
    'mmpretrain.models.backbones.vision_transformer.VisionTransformer': 'vit',
    'mmseg.models.backbones.beit.BEiT': 'vit',  # and mmseg's MAE, a subclass
    'timm.models.vision_transformer.VisionTransformer': 'vit',
    'projects.ViTDet.vitdet.vit.ViT': 'vit',  # mmdet's ViTDet project (blocks.i)
    'mmpretrain.models.backbones.swin_transformer.SwinTransformer': 'swin',
    'mmdet.models.backbones.swin.SwinTransformer': 'swin',
    'mmseg.models.backbones.swin.SwinTransformer': 'swin',
    'mmdet.models.backbones.pvt.PyramidVisionTransformer': 'pvt',
}
# mmmim classes by name (they may move between modules).
FAMILY_OF_NAME = dict(MaskedViT='vit', ViTDetBackbone='vit', MaskedSwin='swin',
                      MaskedPVT='pvt')


def family_of(backbone: nn.Module) -> str:
    """The family of ``backbone``'s class (or of its nearest known base class)."""
    for cls in type(backbone).__mro__:
        family = (FAMILY_OF_CLASS.get(f'{cls.__module__}.{cls.__qualname__}')
                  or FAMILY_OF_NAME.get(cls.__name__))
        if family:
            return family
    raise TypeError(
        f'no layer-wise decay rule for {type(backbone).__module__}.'
        f'{type(backbone).__qualname__}: give it a get_layer_depth(param_name, prefix) '
        f'method or add its class to mmmim.models.layer_depth.FAMILY_OF_CLASS '
        f'(families: {sorted(FAMILY_RULES)})')


def family_rule(backbone: nn.Module) -> DepthRule:
    """The family rule of ``backbone``, bound to its block counts."""
    return FAMILY_RULES[family_of(backbone)](backbone)


def layer_depth_rule(backbone: nn.Module) -> DepthRule:
    """``backbone.get_layer_depth`` when it has one, else its family rule."""
    own = getattr(backbone, 'get_layer_depth', None)
    return own if callable(own) else family_rule(backbone)
