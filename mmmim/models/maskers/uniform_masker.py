"""UM-MAE's uniform sampling plus secondary masking as a registered module."""
from typing import Optional, Tuple

import torch
from torch import nn

from mmmim.registry import MODELS

from ..structures import MaskSet
from ..utils import check_all
from .random_masker import grid_of

DRAWS = ('independent', 'balanced')


def uniform_mask(batch: int, grid: Tuple[int, int], draw: str = 'independent',
                 device=None) -> torch.Tensor:
    """bool ``[batch, gh*gw]``, True = masked, with exactly one visible unit per
    non-overlapping 2x2 window (25% visible).

    ``draw='independent'``: each window picks its visible corner uniformly and
    independently (multinomial corner counts per sample).
    ``draw='balanced'``: an exactly balanced draw: the corners of one sample are a
    random permutation of a pool holding each corner equally often, so every corner
    is kept in exactly ``windows / 4`` windows (a remainder, when ``windows`` is not
    divisible by 4, starts at a random corner).

    Neither is the official UM-MAE generator: it shuffles a pool of twice the
    windows (each corner ``windows / 2`` times) and keeps the first ``windows``
    entries, so its corner counts are hypergeometric (mean ``windows / 4``; std
    2.5 at 64 windows) and no corner exceeds half of the windows.
    """
    gh, gw = grid
    if gh % 2 or gw % 2:
        raise ValueError(f'uniform masking needs an even unit grid, got {gh}x{gw}')
    if draw not in DRAWS:
        raise ValueError(f'draw must be one of {DRAWS}, got {draw!r}')
    num_windows = (gh // 2) * (gw // 2)
    if draw == 'independent':
        corner = torch.randint(4, (batch, num_windows), device=device)
    else:
        start = torch.randint(4, (batch, 1), device=device)
        pool = (torch.arange(num_windows, device=device)[None] + start) % 4
        order = torch.rand(batch, num_windows, device=device).argsort(dim=1)
        corner = pool.gather(1, order)
    visible = nn.functional.one_hot(corner, 4).bool()           # [B, windows, 4]
    visible = visible.view(batch, gh // 2, gw // 2, 2, 2).permute(0, 1, 3, 2, 4)
    return ~visible.reshape(batch, gh * gw)


def secondary_count(num_visible: int, ratio: float) -> int:
    """Secondary-masked units out of ``num_visible``: all but the
    ``int(num_visible * (1 - ratio))`` kept ones, as the official UM-MAE code keeps
    (16 of 64 at 256 px, 13 of 49 for ViT at 224 px, as the paper states)."""
    return num_visible - int(num_visible * (1 - ratio))


def secondary_mask(mask: torch.Tensor, ratio: float,
                   num_visible: Optional[int] = None) -> torch.Tensor:
    """bool ``[B, L]``: exactly :func:`secondary_count` of each sample's visible
    units (``~mask``), drawn uniformly; never a masked unit."""
    if num_visible is None:           # not known from the draw: count and check
        counts = (~mask).sum(1)
        check_all(counts == counts[0], 'secondary masking needs the same visible count '
                  'per sample')
        num_visible = int(counts[0])
    num = secondary_count(num_visible, ratio)
    # rank visible units first (noise in [0, 1)) and masked ones last (>= 1)
    noise = torch.rand(mask.shape, device=mask.device) + mask.float()
    return noise.argsort(dim=1).argsort(dim=1) < num


@MODELS.register_module()
class UniformMasker(nn.Module):
    """Uniform sampling (one visible unit per 2x2 window) + secondary masking.

    Masks come from the global torch RNG of the process that draws them (the model
    side, seeded per rank by ``randomness.diff_rank_seed``; per worker when drawn
    inside a dataloader worker).

    Args:
        unit_size: mask-unit side in pixels (16).
        secondary_ratio: fraction of the visible units whose content the encoder
            replaces by its ``secondary_token`` (0 disables secondary masking).
        draw: 'independent' (default) or 'balanced' (see :func:`uniform_mask`).
    """

    def __init__(self, unit_size: int = 16, secondary_ratio: float = 0.25,
                 draw: str = 'independent') -> None:
        super().__init__()
        if not 0.0 <= secondary_ratio < 1.0:
            raise ValueError(f'secondary_ratio must be in [0, 1), got {secondary_ratio}')
        if draw not in DRAWS:
            raise ValueError(f'draw must be one of {DRAWS}, got {draw!r}')
        self.unit_size = unit_size
        self.secondary_ratio = secondary_ratio
        self.draw = draw

    def forward(self, images: torch.Tensor) -> MaskSet:
        """images ``[B, C, H, W]`` -> MaskSet on the ``(H/u, W/u)`` unit grid."""
        grid = grid_of(images.shape[-2:], self.unit_size)
        mask = uniform_mask(images.shape[0], grid, self.draw, images.device)
        num_visible = grid[0] * grid[1] // 4                  # one unit per 2x2 window
        secondary = (secondary_mask(mask, self.secondary_ratio, num_visible)
                     if self.secondary_ratio > 0 else None)
        return MaskSet(mask=mask, grid=grid, unit_size=self.unit_size, secondary=secondary,
                       num_masked=grid[0] * grid[1] - num_visible)
