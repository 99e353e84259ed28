"""Reconstruction losses over masked units only."""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from mmmim.registry import MODELS


@MODELS.register_module()
class MaskedReconstructionLoss(nn.Module):
    """Mean error over masked units: ``sum_u w_u * err_u / sum_u w_u``.

    ``err_u`` is the squared ('mse') or absolute ('l1') error averaged over the
    unit's target features; ``w_u`` the (possibly fractional) mask weight of unit u.
    Predictions on units with weight 0 do not affect the loss or its gradient.
    Computed in fp32.

    Args:
        criterion: 'mse' or 'l1'.
        loss_weight: multiplier.
    """

    def __init__(self, criterion: str = 'mse', loss_weight: float = 1.0) -> None:
        super().__init__()
        if criterion not in ('mse', 'l1'):
            raise ValueError(f"criterion must be 'mse' or 'l1', got {criterion!r}")
        self.criterion = criterion
        self.loss_weight = loss_weight

    def forward(self, pred: torch.Tensor, target: torch.Tensor,
                weight: Optional[torch.Tensor] = None) -> torch.Tensor:
        """pred, target ``[B, L, D]``; weight ``[B, L]`` (bool or float), None for
        every unit at weight 1 (the rows of masked units alone) -> scalar."""
        if pred.shape != target.shape:
            raise ValueError(f'prediction {tuple(pred.shape)} and target '
                             f'{tuple(target.shape)} differ in shape')
        pred, target = pred.float(), target.float()
        if weight is not None:
            weight = weight.float()
            pred = torch.where(weight[..., None] > 0, pred, target)  # no grad off the mask
        if self.criterion == 'mse':
            err = F.mse_loss(pred, target, reduction='none')
        else:
            err = F.l1_loss(pred, target, reduction='none')
        per_unit = err.mean(dim=-1)
        if weight is None:
            return self.loss_weight * per_unit.sum() / per_unit.numel()
        return self.loss_weight * (per_unit * weight).sum() / weight.sum().clamp(min=1e-6)
