"""ViTDet (Li et al. 2022) for MMDetection on mmpretrain ViT keys: the plain ViT
backbone with window / global attention and relative positions. Its simple feature
pyramid is a neck (:class:`mmmim.models.necks.SimpleFeaturePyramid`).
``LayerNorm2d`` is mmpretrain's (registered ``'LN2d'``)."""
from mmpretrain.models.utils import LayerNorm2d

from .attention import (
                        RelPosAttention,
                        decomposed_rel_pos_bias,
                        relative_positions,
                        window_partition,
                        window_unpartition,
)
from .backbone import ViTDetBackbone, ViTDetBlock

__all__ = ['LayerNorm2d', 'RelPosAttention', 'ViTDetBackbone', 'ViTDetBlock',
           'decomposed_rel_pos_bias', 'relative_positions', 'window_partition',
           'window_unpartition']
