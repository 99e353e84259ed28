"""HOG cells drawn as orientation glyphs: one line per orientation bin through each
cell's centre, along the edge direction of the bin (perpendicular to its gradient),
as bright as the bin's value."""
import math
from typing import Optional

import numpy as np
from PIL import Image, ImageDraw

__all__ = ['glyph_stencils', 'hog_glyph_image']

SUPERSAMPLE = 4


def glyph_stencils(nbins: int, cell_px: int) -> np.ndarray:
    """float ``[nbins, cell_px, cell_px]`` in [0, 1]: an anti-aliased line per bin.

    Bin ``b`` holds gradients at angle ``theta`` in ``[b, b + 1) * pi / nbins`` from
    the image's vertical axis (:class:`mmmim.models.targets.HOGTarget`): the gradient
    points along ``(sin theta, cos theta)`` (x right, y down), the edge along
    ``(cos theta, -sin theta)``; bin 0 (vertical gradient) is a horizontal line.
    """
    size = cell_px * SUPERSAMPLE
    centre = (size - 1) / 2
    half = 0.45 * size
    stencils = []
    for b in range(nbins):
        theta = (b + 0.5) * math.pi / nbins
        dx, dy = math.cos(theta) * half, -math.sin(theta) * half
        canvas = Image.new('L', (size, size), 0)
        ImageDraw.Draw(canvas).line(
            [(centre - dx, centre - dy), (centre + dx, centre + dy)], fill=255,
            width=max(1, SUPERSAMPLE))
        small = canvas.resize((cell_px, cell_px), Image.BOX)
        stencils.append(np.asarray(small, np.float32) / 255)
    return np.stack(stencils)


def hog_glyph_image(features: np.ndarray, grid, nbins: int, cell_px: int = 12,
                    scale: Optional[float] = None,
                    blank: Optional[np.ndarray] = None) -> np.ndarray:
    """HOG features ``[gh*gw, C*nbins]`` (ordered channel, bin) -> uint8 RGB
    ``[gh*cell_px, gw*cell_px, 3]`` glyph image (white on black).

    Channels are averaged; values are divided by ``scale`` (default: the largest bin
    value) and clipped to [0, 1], so give a target and its prediction the same
    ``scale`` to compare them. Cells where ``blank [gh*gw]`` is True are drawn dark
    grey without glyphs.
    """
    gh, gw = grid
    per_bin = features.reshape(gh * gw, -1, nbins).mean(1)         # [L, nbins]
    scale = scale or float(per_bin.max()) or 1.0
    values = np.clip(per_bin / scale, 0, 1).reshape(gh, gw, nbins)
    stencils = glyph_stencils(nbins, cell_px)                       # [nbins, s, s]
    cells = np.einsum('hwb,byx->hywx', values, stencils)            # [gh, s, gw, s]
    image = np.clip(cells, 0, 1).reshape(gh * cell_px, gw * cell_px)
    rgb = np.repeat((image * 255).round().astype(np.uint8)[..., None], 3, axis=2)
    if blank is not None:
        cell_blank = blank.reshape(gh, gw).repeat(cell_px, 0).repeat(cell_px, 1)
        rgb[cell_blank] = 48
    return rgb
