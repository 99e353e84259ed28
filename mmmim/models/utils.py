"""Small tensor helpers shared by encoders, decoders and targets."""
from typing import Set, Tuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

__all__ = ['check_all', 'init_linear_and_norm', 'resample_mask',
           'gather_rows', 'scatter_rows', 'patchify', 'unpatchify', 'run_block']


#: messages of :func:`check_all` already checked on the host for a CUDA tensor
_HOST_CHECKED: Set[str] = set()


def check_all(condition: torch.Tensor, message: str) -> None:
    """Raise ``ValueError(message)`` unless the bool tensor ``condition`` is all
    True.

    Reading the answer on the host waits for the GPU, so on CUDA only the first
    check of each ``message`` in a process does that (a misconfiguration fails
    there, with this error). Later ones, and every check under torch.compile (no
    graph break), assert in device code (``torch._assert_async``): a failure there
    surfaces at the next sync as a CUDA device-side assertion (double quotes in the
    message become single ones: Inductor's C++ code embeds it)."""
    if torch.compiler.is_compiling() or (condition.is_cuda and message in _HOST_CHECKED):
        torch._assert_async(condition.all(), message.replace('"', "'"))
    elif not bool(condition.all()):
        raise ValueError(message)
    elif condition.is_cuda:
        _HOST_CHECKED.add(message)


def init_linear_and_norm(module: nn.Module) -> None:
    """MAE-style init: xavier-uniform Linear weights, zero biases, unit norms."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.LayerNorm, nn.GroupNorm, nn.BatchNorm2d)):
            if m.weight is not None:
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)


def resample_mask(mask: torch.Tensor, grid: Tuple[int, int],
                  out_grid: Tuple[int, int]) -> torch.Tensor:
    """Resample a ``[B, gh*gw]`` mask to ``[B, oh*ow]`` on another grid.

    Finer grids repeat each unit (nearest); coarser grids average the units that
    fall in each cell, so a bool mask becomes fractional weights in [0, 1]. Bool
    input on a finer (or equal) grid stays bool.
    """
    (gh, gw), (oh, ow) = grid, out_grid
    if (gh, gw) == (oh, ow):
        return mask
    m = mask.view(-1, 1, gh, gw)
    if oh % gh == 0 and ow % gw == 0:
        out = m.repeat_interleave(oh // gh, 2).repeat_interleave(ow // gw, 3)
    elif gh % oh == 0 and gw % ow == 0:
        out = F.avg_pool2d(m.float(), (gh // oh, gw // ow))
    else:
        raise ValueError(f'cannot resample a {gh}x{gw} mask to {oh}x{ow}: '
                         'grids must divide each other')
    return out.flatten(1)


def gather_rows(tokens: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """tokens ``[B, L, C]``, index long ``[B, R]`` -> ``[B, R, C]``: row
    ``index[b, r]`` of sample b at place r (e.g. ``index = masks.visible_rows``)."""
    return tokens.gather(1, index[..., None].expand(-1, -1, tokens.shape[-1]))


def scatter_rows(fill: torch.Tensor, rows: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`gather_rows`: ``rows [B, R, C]`` put at the places
    ``index [B, R]`` of ``fill [B, L, C]``, in a new tensor."""
    index = index[..., None].expand(-1, -1, fill.shape[-1])
    return fill.scatter(1, index, rows.to(fill.dtype))


def patchify(images: torch.Tensor, patch: int) -> torch.Tensor:
    """images ``[B, C, H, W]`` -> ``[B, (H/p)*(W/p), p*p*C]`` (row-major patches,
    each flattened as (p, p, C), the MAE layout)."""
    b, c, h, w = images.shape
    x = images.reshape(b, c, h // patch, patch, w // patch, patch)
    return x.permute(0, 2, 4, 3, 5, 1).reshape(b, (h // patch) * (w // patch), patch * patch * c)


def unpatchify(patches: torch.Tensor, patch: int, grid: Tuple[int, int],
               channels: int = 3) -> torch.Tensor:
    """Inverse of :func:`patchify`: ``[B, gh*gw, p*p*C]`` -> ``[B, C, gh*p, gw*p]``."""
    b = patches.shape[0]
    gh, gw = grid
    x = patches.reshape(b, gh, gw, patch, patch, channels)
    return x.permute(0, 5, 1, 3, 2, 4).reshape(b, channels, gh * patch, gw * patch)


def run_block(block: nn.Module, x: torch.Tensor, *args, with_cp: bool = False) -> torch.Tensor:
    """``block(x, *args)``, with activation checkpointing when ``with_cp`` and the
    input takes part in autograd: the block's activations are recomputed in the
    backward pass instead of kept (less memory, about one more forward of time).
    Same outputs and gradients either way."""
    if with_cp and torch.is_grad_enabled() and x.requires_grad:
        return checkpoint(block, x, *args, use_reentrant=False)
    return block(x, *args)
