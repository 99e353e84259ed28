"""ViTDet (Li et al. 2022) for MMDetection on mmpretrain ViT keys: the plain ViT
backbone with window / global attention and relative positions, and the simple
feature pyramid. ``LayerNorm2d`` is mmpretrain's (registered ``'LN2d'``)."""
from mmpretrain.models.utils import LayerNorm2d

from .attention import (
                        RelPosAttention,
                        decomposed_rel_pos_bias,
                        relative_positions,
                        window_partition,
                        window_unpartition,
)
from .backbone import ViTDetBackbone, ViTDetBlock
from .simple_fpn import SimpleFeaturePyramid

__all__ = ['LayerNorm2d', 'RelPosAttention', 'SimpleFeaturePyramid', 'ViTDetBackbone',
           'ViTDetBlock', 'decomposed_rel_pos_bias', 'relative_positions',
           'window_partition', 'window_unpartition']
