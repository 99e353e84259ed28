"""Necks for downstream (detection / segmentation) models fed by mmmim backbones."""
from .global_attention import GlobalAttentionFPN
from .simple_fpn import SimpleFeaturePyramid
from .vit_feature_pyramid import ViTFeaturePyramid

__all__ = ['GlobalAttentionFPN', 'SimpleFeaturePyramid', 'ViTFeaturePyramid']
