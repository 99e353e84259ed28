"""MAE's random masking as a registered module."""
from typing import Tuple

import torch
from torch import nn

from mmmim.registry import MODELS

from ..structures import MaskSet


def grid_of(image_hw: Tuple[int, int], unit_size: int) -> Tuple[int, int]:
    """Mask-unit grid of an image; the image must tile exactly into units."""
    h, w = image_hw
    if h % unit_size or w % unit_size:
        raise ValueError(f'input size {h}x{w} is not divisible by the mask unit '
                         f'size {unit_size}')
    return h // unit_size, w // unit_size


def random_mask(batch: int, num_units: int, num_masked: int,
                device: torch.device, generator=None) -> torch.Tensor:
    """bool ``[batch, num_units]`` with exactly ``num_masked`` True per row,
    drawn independently and uniformly per row."""
    if not 0 <= num_masked <= num_units:
        raise ValueError(f'num_masked={num_masked} outside [0, {num_units}]')
    noise = torch.rand(batch, num_units, device=device, generator=generator)
    ranks = noise.argsort(dim=1).argsort(dim=1)  # [B, L] rank of each unit's noise
    return ranks < num_masked


@MODELS.register_module()
class RandomMasker(nn.Module):
    """Mask ``round(ratio * L)`` units per sample uniformly at random (MAE).

    Masks come from the global torch RNG of the process that draws them: the model
    side, seeded per rank by ``randomness=dict(seed=..., diff_rank_seed=True)``
    (and, inside a dataloader worker, per worker by mmengine's worker seeding).

    Args:
        ratio: fraction of units masked.
        unit_size: mask-unit side in pixels (the ViT patch size for MAE).
    """

    def __init__(self, ratio: float = 0.75, unit_size: int = 16) -> None:
        super().__init__()
        if not 0.0 <= ratio < 1.0:
            raise ValueError(f'mask ratio must be in [0, 1), got {ratio}')
        self.ratio = ratio
        self.unit_size = unit_size

    def forward(self, images: torch.Tensor) -> MaskSet:
        """images ``[B, C, H, W]`` -> MaskSet with mask ``[B, (H/u)*(W/u)]``."""
        grid = grid_of(images.shape[-2:], self.unit_size)
        num_units = grid[0] * grid[1]
        num_masked = round(self.ratio * num_units)
        mask = random_mask(images.shape[0], num_units, num_masked, images.device)
        return MaskSet(mask=mask, grid=grid, unit_size=self.unit_size, num_masked=num_masked)
