"""Data passed between the slots of a masked image model.

One mask convention everywhere: ``mask`` is a bool tensor ``[B, L]`` over the grid of
mask units (row-major, ``L = grid_h * grid_w``), **True = masked** (removed from the
encoder and reconstructed). Everything else derives from it.
"""
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

import torch


@dataclass
class MaskSet:
    """Masks drawn for one batch.

    Attributes:
        mask: bool ``[B, L]``, True = masked (primary mask; the loss covers these).
        grid: ``(grid_h, grid_w)`` of the mask-unit grid, ``L = grid_h * grid_w``.
        unit_size: side of one mask unit in input pixels.
        secondary: optional bool ``[B, L]``, True = visible unit whose content the
            encoder replaces by a learnable token (UM-MAE's secondary masking).
            Always a subset of ``~mask``; never in the loss.
    """
    mask: torch.Tensor
    grid: Tuple[int, int]
    unit_size: int
    secondary: Optional[torch.Tensor] = None

    @property
    def visible(self) -> torch.Tensor:
        """bool ``[B, L]``: units the encoder sees (secondary ones included)."""
        return ~self.mask


@dataclass
class EncoderOutput:
    """What an encoder hands to the decoder(s).

    Attributes:
        tokens: ``[B, N, C]`` final (normed) tokens. For columnar encoders N is
            ``num_extra_tokens + visible units``; for pyramid encoders the last
            stage's ``h * w`` tokens.
        hw: spatial size of ``tokens`` (tokens beyond the extra ones).
        num_extra_tokens: leading non-spatial tokens (class token) in ``tokens``.
        taps: named intermediate outputs (``'block3'``, ``'stage1'``...), each
            ``[B, N_i, C_i]``, for multi-level decoders.
        tap_hw: spatial size of each tap.
    """
    tokens: torch.Tensor
    hw: Tuple[int, int]
    num_extra_tokens: int = 0
    taps: Dict[str, torch.Tensor] = field(default_factory=dict)
    tap_hw: Dict[str, Tuple[int, int]] = field(default_factory=dict)
