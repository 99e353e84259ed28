"""SimMIM's linear decoder."""
from typing import Optional

import torch
from mmengine.model import BaseModule
from torch import nn

from mmmim.registry import MODELS

from ..structures import EncoderOutput, MaskSet
from ..utils import init_linear_and_norm


@MODELS.register_module()
class SimMIMDecoder(BaseModule):
    """One Linear per last-stage token to the pixels it covers.

    ``[B, h*w, C]`` -> ``[B, (h*f)*(w*f), unit_size**2 * out_channels]``, each row the
    ``(unit, unit, C)`` pixels of one mask unit: SimMIM's 1x1 conv to
    ``stride**2 * 3`` channels + PixelShuffle(stride), written per unit so it lines
    up with :class:`PixelTarget` (``patch_size=unit_size``). Each token covers
    ``f = stride / unit_size`` units per side: ``f = 1`` for SimMIM's own 32-px
    units on a stride-32 pyramid, ``f = 2`` for the UM-MAE paper's SimMIM baseline
    (16-px units), where each token predicts its 2x2 units.

    Args:
        in_dims: encoder width (last stage).
        unit_size: mask-unit side in pixels (derived from the masker in a model).
        out_channels: channels per pixel.
        stride: encoder stride in pixels (the side each token covers); default
            ``unit_size``. Must be a multiple of ``unit_size``.
    """

    def __init__(self, in_dims: int = 768, unit_size: int = 32, out_channels: int = 3,
                 stride: Optional[int] = None, init_cfg=None) -> None:
        super().__init__(init_cfg)
        stride = stride or unit_size
        if stride % unit_size:
            raise ValueError(f'stride {stride} is not a multiple of unit_size {unit_size}')
        self.unit_size, self.stride, self.out_channels = unit_size, stride, out_channels
        self.predictor = nn.Linear(in_dims, stride**2 * out_channels)

    def init_weights(self) -> None:
        super().init_weights()
        init_linear_and_norm(self)

    def forward(self, latent: EncoderOutput, masks: MaskSet) -> torch.Tensor:
        """-> ``[B, grid_h * grid_w, unit_size**2 * out_channels]`` (row-major units)."""
        f = self.stride // self.unit_size
        (h, w), u, c = latent.hw, self.unit_size, self.out_channels
        if tuple(masks.grid) != (h * f, w * f):
            raise ValueError(f'encoder tokens {tuple(latent.hw)} at stride {self.stride} px '
                             f'do not cover the {tuple(masks.grid)} grid of '
                             f'{self.unit_size}-px mask units')
        pred = self.predictor(latent.tokens[:, latent.num_extra_tokens:])
        if f == 1:
            return pred
        # a token's (f*u, f*u, C) pixels -> its f x f units, each (u, u, C), row-major
        pred = pred.reshape(-1, h, w, f, u, f, u, c).permute(0, 1, 3, 2, 5, 4, 6, 7)
        return pred.reshape(-1, h * f * w * f, u * u * c)
