"""One titled figure of what a model reconstructs, for every kind of target.

* pixel targets (MAE, UM-MAE, SimMIM, PixMIM): per image a row
  original | [low-pass target] | masked input | reconstruction | + visible pasted back,
  the last two for each way of undoing a per-patch normalization (labelled);
* multi-level models (LocalMIM) and HOG targets: per image a row original | masked
  input, then per level its target next to its prediction at the level's own scale
  (HOG as orientation glyphs, pixels as images).
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from mmmim.models.targets.pixel import PixelTarget
from mmmim.models.utils import patchify, resample_mask, unpatchify

from .canvas import Panel, compose_figure
from .hog_glyphs import hog_glyph_image
from .reconstruction import (
    NONE_BORROWED,
    TRUE_STATS,
    masked_input,
    masked_unit_errors,
    reconstruct_pixels,
    to_uint8,
    unit_map,
)

__all__ = ['Figure', 'reconstruction_figure', 'BORROWED_NOTE']

BORROWED_NOTE = {
    TRUE_STATS: "true patch statistics = each masked unit's mean and variance borrowed "
                'from the image (as in MAE\'s figures)',
    NONE_BORROWED: 'none borrowed = nothing taken from masked units (an unnormalized '
                   "target's prediction, or a normalized one shown as is)",
}
LEGEND = ('masked input: grey = masked (reconstructed, in the loss); blue tint = '
          "secondary-masked (UM-MAE: seen by the encoder as a token, not in the loss)")


@dataclass
class Figure:
    """``image`` uint8 ``[H, W, 3]``; ``errors`` per image name (pixel targets);
    ``borrowed`` a sentence saying what was taken from the image."""
    image: np.ndarray
    errors: Dict[str, Dict[str, Optional[float]]] = field(default_factory=dict)
    mean_errors: Dict[str, Optional[float]] = field(default_factory=dict)
    borrowed: str = ''
    boxes: List[Tuple[str, Tuple[int, int, int, int]]] = field(default_factory=list)


def reconstruction_figure(model, images: torch.Tensor, names: Sequence[str],
                          header: Sequence[str] = (), zoom: int = 1) -> Figure:
    """Run ``model`` (eval mode, masks from the global torch RNG) on normalized
    ``images [B, 3, H, W]`` named ``names`` and draw the figure for its target."""
    if len(names) != images.shape[0]:
        raise ValueError(f'{images.shape[0]} images but {len(names)} names')
    if hasattr(model, 'levels') or not isinstance(model.target, PixelTarget):
        return _level_figure(model, images, names, header, zoom)
    return _pixel_figure(model, images, names, header, zoom)


def _pixel_figure(model, images, names, header, zoom) -> Figure:
    results = reconstruct_pixels(model, images)
    rows = []
    for name, r in zip(names, results):
        row = [Panel(name, r.original)]
        if r.filtered:
            row.append(Panel('low-pass target (what is reconstructed)', r.target_image))
        row.append(Panel('masked input', r.masked))
        what = 'low-pass recon.' if r.filtered else 'reconstruction'
        for label, (recon, pasted) in r.variants.items():
            row += [Panel(f'{what}, {label}', recon), Panel(f'+ visible, {label}', pasted)]
        rows.append(row)
    borrowed = ('masked units shown with ' + ' and with '.join(results[0].variants)
                + ': ' + '; '.join(BORROWED_NOTE[k] for k in results[0].variants))
    mean = masked_unit_errors(results)
    errors_line = ('masked-unit MSE (0-255 units): ' + ', '.join(
        f'{k} {v:.1f}' for k, v in mean.items() if v is not None))
    boxes: list = []
    image = compose_figure(rows, [*header, borrowed, LEGEND, errors_line], zoom, boxes)
    return Figure(image, {n: r.errors for n, r in zip(names, results)}, mean, borrowed, boxes)


def _level_outputs(model, images) -> Tuple[List[dict], Dict[str, str]]:
    """``model.reconstruct`` with every output as ``levels={name: (pred, target)}`` and
    the target scale of each level name."""
    outputs = model.reconstruct(images)
    if hasattr(model, 'levels'):
        return outputs, {level.log_name: level.target for level in model.levels}
    scale = model.target.names[0] if hasattr(model.target, 'names') else None
    for out in outputs:
        out['levels'] = {scale or 'target': (out.pop('pred'), out.pop('target'))}
    return outputs, {scale or 'target': scale}


def _level_figure(model, images, names, header, zoom) -> Figure:
    outputs, scales = _level_outputs(model, images)
    rows = []
    for i, (name, out) in enumerate(zip(names, outputs)):
        original = to_uint8(images[i], model)
        unit = out['unit_size']
        rows.append([Panel(name, original), Panel('masked input', masked_input(
            original, unit_map(out['mask'], out['grid'], unit),
            unit_map(out.get('secondary'), out['grid'], unit)))])
        for level_name, (pred, target) in out['levels'].items():
            rows.append(_level_panels(model, images[i], out, level_name,
                                      scales[level_name], pred, target))
    borrowed = ('nothing borrowed: predictions shown as is, masked cells only '
                '(visible cells dark grey); HOG as orientation glyphs, channels averaged, '
                'target and prediction on one brightness scale')
    boxes: list = []
    image = compose_figure(rows, [*header, borrowed, LEGEND], zoom, boxes)
    return Figure(image, borrowed=borrowed, boxes=boxes)


def _target_module(model, scale: Optional[str]):
    target = model.target
    if scale is not None and hasattr(target, 'scales'):      # MultiScalePixelTarget
        return target.scales[scale]
    return target


def _level_panels(model, image, out, level_name, scale, pred, target) -> List[Panel]:
    """Target | prediction on masked cells, at the level's scale."""
    grid = (model.target.grid(image.shape[-2:], scale) if scale is not None
            else model.target.grid(image.shape[-2:]))
    masked = resample_mask(out['mask'][None], out['grid'], grid)[0].float().cpu() > 0
    pred, target = pred.float().cpu(), target.float().cpu()
    module = _target_module(model, scale)
    tag = f'{level_name} ({grid[0]}x{grid[1]})'
    if hasattr(module, 'nbins'):
        cell_px = max(12, image.shape[-1] // grid[1])
        shared = float(target.reshape(target.shape[0], -1, module.nbins).mean(1).max()) or 1.0
        return [Panel(f'{tag} HOG target', hog_glyph_image(
                    target.numpy(), grid, module.nbins, cell_px, shared)),
                Panel(f'{tag} HOG prediction, masked cells', hog_glyph_image(
                    pred.numpy(), grid, module.nbins, cell_px, shared,
                    blank=(~masked).numpy()))]
    return _pixel_level_panels(model, image, module, grid, masked, pred, target, tag)


def _pixel_level_panels(model, image, module, grid, masked, pred, target, tag
                        ) -> List[Panel]:
    """A per-patch pixel level: its target and prediction, plus the prediction with
    the true patch statistics when the target is normalized."""
    p = module.patch_size
    show = lambda x: to_uint8(unpatchify(x[None], p, grid)[0], model)  # noqa: E731
    norm = ', normalized per patch' if module.normalize else ''
    panels = [Panel(f'{tag} target{norm}', show(target)),
              Panel(f'{tag} prediction on masked, target on visible{norm}',
                    show(torch.where(masked[:, None], pred, target)))]
    if module.normalize:
        raw = patchify(image[None].float(), p)[0].cpu()
        mean, std = raw.mean(-1, keepdim=True), (raw.var(-1, keepdim=True) + module.eps).sqrt()
        panels.append(Panel(f'{tag} prediction + visible, {TRUE_STATS}',
                            show(torch.where(masked[:, None], pred * std + mean, raw))))
    return panels
