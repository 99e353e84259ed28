"""A feature pyramid from a plain ViT's same-resolution maps (BEiT / MAE / LocalMIM
segmentation): each tapped block's map ``[B, C, H/16, W/16]`` is rescaled by its own
factor, 4x and 2x up by transposed convolutions, 1x as it is, 1/2 and 1/4 down by
pooling.

mmseg's ``Feature2Pyramid`` pools by maximum only; the LocalMIM paper's UperNet
(like BEiT's) pools by average. ``downsample`` chooses, everything else is the same
computation as mmseg's neck (4x: ConvT 2x2 -> norm -> GELU -> ConvT 2x2; 2x: ConvT 2x2).
"""
from typing import Sequence, Tuple

import torch
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from torch import nn

from mmmim.registry import MODELS

_POOLS = {'max': nn.MaxPool2d, 'avg': nn.AvgPool2d}


def _upsample(dims: int, scale: int, norm_cfg: dict) -> nn.Module:
    """``scale`` 2: one 2x2 transposed conv; 4: conv -> norm -> GELU -> conv."""
    if scale == 2:
        return nn.ConvTranspose2d(dims, dims, kernel_size=2, stride=2)
    return nn.Sequential(nn.ConvTranspose2d(dims, dims, kernel_size=2, stride=2),
                         build_norm_layer(norm_cfg, dims)[1], nn.GELU(),
                         nn.ConvTranspose2d(dims, dims, kernel_size=2, stride=2))


class ViTFeaturePyramid(BaseModule):
    """Rescale ViT feature maps into a pyramid.

    Args:
        embed_dims: channels of every input map (the ViT width).
        rescales: one factor per input map, each of 4, 2, 1, 0.5, 0.25.
        downsample: ``'max'`` (mmseg's ``Feature2Pyramid``, MAE) or ``'avg'``
            (LocalMIM, BEiT) pooling for the factors below 1.
        norm_cfg: the norm inside the 4x branch.
    """

    def __init__(self, embed_dims: int, rescales: Sequence[float] = (4, 2, 1, 0.5),
                 downsample: str = 'max', norm_cfg: dict = dict(type='SyncBN',
                                                                requires_grad=True),
                 init_cfg=None) -> None:
        super().__init__(init_cfg)
        if downsample not in _POOLS:
            raise ValueError(f'ViTFeaturePyramid: downsample must be one of '
                             f'{sorted(_POOLS)}, got {downsample!r}')
        self.rescales = tuple(rescales)
        self.branches = nn.ModuleList(
            self._branch(embed_dims, r, _POOLS[downsample], norm_cfg) for r in self.rescales)

    @staticmethod
    def _branch(dims: int, rescale: float, pool, norm_cfg: dict) -> nn.Module:
        if rescale in (4, 2):
            return _upsample(dims, int(rescale), norm_cfg)
        if rescale == 1:
            return nn.Identity()
        if rescale in (0.5, 0.25):
            side = int(round(1 / rescale))
            return pool(kernel_size=side, stride=side)
        raise ValueError(f'ViTFeaturePyramid: rescale {rescale} is not one of 4, 2, 1, '
                         '0.5, 0.25')

    def forward(self, inputs: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, ...]:
        """``inputs``: one ``[B, C, h, w]`` map per rescale; returns the maps
        ``[B, C, h * r, w * r]`` in the same order."""
        if len(inputs) != len(self.rescales):
            raise ValueError(f'ViTFeaturePyramid got {len(inputs)} maps for '
                             f'{len(self.rescales)} rescales {self.rescales}')
        return tuple(branch(x) for branch, x in zip(self.branches, inputs))


MODELS.register_module(module=ViTFeaturePyramid)
