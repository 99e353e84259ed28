"""Necks for downstream (detection / segmentation) models fed by mmmim backbones."""
from .vit_feature_pyramid import ViTFeaturePyramid

__all__ = ['ViTFeaturePyramid']
