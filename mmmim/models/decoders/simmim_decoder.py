"""SimMIM's linear decoder."""
import torch
from mmengine.model import BaseModule
from torch import nn

from mmmim.registry import MODELS

from ..structures import EncoderOutput, MaskSet
from ..utils import init_linear_and_norm


@MODELS.register_module()
class SimMIMDecoder(BaseModule):
    """One Linear per last-stage token to the pixels it covers.

    ``[B, h*w, C]`` -> ``[B, h*w, unit_size**2 * out_channels]``, each row the
    ``(unit, unit, C)`` pixels of one mask unit: SimMIM's 1x1 conv to
    ``stride**2 * 3`` channels + PixelShuffle(stride), written per unit so it lines
    up with :class:`PixelTarget` (``patch_size=unit_size``). The encoder's total
    stride must equal the mask unit (32 px for Swin / PVT).

    Args:
        in_dims: encoder width (last stage).
        unit_size: pixels per side each token predicts.
        out_channels: channels per pixel.
    """

    def __init__(self, in_dims: int = 768, unit_size: int = 32, out_channels: int = 3,
                 init_cfg=None) -> None:
        super().__init__(init_cfg)
        self.predictor = nn.Linear(in_dims, unit_size**2 * out_channels)

    def init_weights(self) -> None:
        super().init_weights()
        init_linear_and_norm(self)

    def forward(self, latent: EncoderOutput, masks: MaskSet) -> torch.Tensor:
        if tuple(latent.hw) != tuple(masks.grid):
            raise ValueError(f'encoder tokens {latent.hw} do not match the mask-unit '
                             f'grid {masks.grid}: the encoder stride must be the unit size')
        return self.predictor(latent.tokens[:, latent.num_extra_tokens:])
