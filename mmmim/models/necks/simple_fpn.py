"""ViTDet's simple feature pyramid: every level from the backbone's last map.

From one stride-s map ``[B, C, H, W]`` each scale factor builds one level:
4x up (two 2x2 stride-2 deconvolutions with norm + GELU between), 2x up (one
deconvolution), identity, 2x down (2x2 max-pool); each is followed by a 1x1 conv +
norm and a 3x3 conv + norm (no bias, no activation). Extra levels (P6 for
``num_outs=5``) are a stride-2 subsampling of the last level, as mmdet's FPN and
detectron2's ``LastLevelMaxPool``.

The norm is mmpretrain's channels-first ``LayerNorm2d`` (registered ``'LN2d'``; from
an mmdet-scoped config write ``type='mmpretrain.LN2d'``), ViTDet's ``LN`` with
``eps=1e-6``.
"""
from typing import Sequence, Tuple

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule, build_activation_layer, build_norm_layer
from mmengine.model import BaseModule, ModuleList
from mmengine.model.weight_init import caffe2_xavier_init
from torch import nn

from mmmim.registry import MODELS

LN2D = dict(type='mmpretrain.LN2d', eps=1e-6)


def _rescale(scale: float, channels: int, norm_cfg: dict,
             act_cfg: dict) -> Tuple[nn.Module, int]:
    """(module resampling a ``[B, C, H, W]`` map by ``scale``, its output channels)."""
    if scale == 4.0:
        return nn.Sequential(
            nn.ConvTranspose2d(channels, channels // 2, 2, stride=2),
            build_norm_layer(norm_cfg, channels // 2)[1],
            build_activation_layer(act_cfg),
            nn.ConvTranspose2d(channels // 2, channels // 4, 2, stride=2)), channels // 4
    if scale == 2.0:
        return nn.ConvTranspose2d(channels, channels // 2, 2, stride=2), channels // 2
    if scale == 1.0:
        return nn.Identity(), channels
    if scale == 0.5:
        return nn.MaxPool2d(2, stride=2), channels
    raise ValueError(f'scale factor {scale} is not one of 4.0, 2.0, 1.0, 0.5')


@MODELS.register_module()
class SimpleFeaturePyramid(BaseModule):
    """Multi-scale features from a plain backbone's last map (ViTDet, Fig. 1c).

    Args:
        in_channels: channels of the backbone's map (768 for ViT-B).
        out_channels: channels of every output level.
        scale_factors: one level per factor, finest first (ViTDet: 4, 2, 1, 0.5 on a
            stride-16 map -> strides 4, 8, 16, 32).
        num_outs: levels returned; those beyond ``scale_factors`` are stride-2
            subsamplings of the last one.
        norm_cfg: norm after the first deconvolution and after every conv.
        act_cfg: activation between the two 4x deconvolutions.

    Forward: a sequence whose last entry is ``[B, in_channels, H, W]`` -> a tuple of
    ``num_outs`` maps ``[B, out_channels, H * f, W * f]``.
    """

    def __init__(self, in_channels: int = 768, out_channels: int = 256,
                 scale_factors: Sequence[float] = (4.0, 2.0, 1.0, 0.5), num_outs: int = 5,
                 norm_cfg: dict = LN2D, act_cfg: dict = dict(type='GELU'),
                 init_cfg=None) -> None:
        super().__init__(init_cfg)
        if num_outs < len(scale_factors):
            raise ValueError(f'num_outs {num_outs} < {len(scale_factors)} scale factors')
        self.num_outs = num_outs
        self.rescales, self.lateral_convs, self.output_convs = (ModuleList() for _ in '123')
        for scale in scale_factors:
            rescale, channels = _rescale(float(scale), in_channels, norm_cfg, act_cfg)
            self.rescales.append(rescale)
            self.lateral_convs.append(ConvModule(channels, out_channels, 1, bias=False,
                                                 norm_cfg=norm_cfg, act_cfg=None))
            self.output_convs.append(ConvModule(out_channels, out_channels, 3, padding=1,
                                                bias=False, norm_cfg=norm_cfg, act_cfg=None))

    def init_weights(self) -> None:
        """Convs as detectron2's ``c2_xavier_fill`` (ConvModule would draw kaiming
        normal); deconvolutions keep PyTorch's default, as ViTDet."""
        super().init_weights()
        for module in (*self.lateral_convs, *self.output_convs):
            caffe2_xavier_init(module.conv)

    def forward(self, inputs: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, ...]:
        last = inputs[-1]                                   # [B, C, H, W]
        outs = [out_conv(lateral(rescale(last))) for rescale, lateral, out_conv
                in zip(self.rescales, self.lateral_convs, self.output_convs)]
        while len(outs) < self.num_outs:
            outs.append(F.max_pool2d(outs[-1], kernel_size=1, stride=2))
        return tuple(outs)
