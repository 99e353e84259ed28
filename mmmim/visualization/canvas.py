"""Titled panels laid out in rows under a header, drawn with PIL (no matplotlib needed)."""
import textwrap
from dataclasses import dataclass
from typing import List, Optional, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = ['Panel', 'compose_figure', 'FONT_SIZE']

FONT_SIZE = 11
LINE_HEIGHT = FONT_SIZE + 3
TITLE_LINES = 2
GAP = 6
BACKGROUND = (255, 255, 255)
INK = (20, 20, 20)


@dataclass
class Panel:
    """One titled picture: ``image`` uint8 ``[H, W, 3]``."""
    title: str
    image: np.ndarray


def _font() -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=FONT_SIZE)
    except TypeError:  # Pillow < 10.1: a fixed bitmap font
        return ImageFont.load_default()


def _wrap(text: str, width_px: int) -> List[str]:
    chars = max(8, int(width_px / (FONT_SIZE * 0.55)))
    return textwrap.wrap(text, chars) or ['']


def _zoomed(image: np.ndarray, zoom: int) -> Image.Image:
    picture = Image.fromarray(np.ascontiguousarray(image))
    if zoom == 1:
        return picture
    return picture.resize((picture.width * zoom, picture.height * zoom), Image.NEAREST)


def compose_figure(rows: Sequence[Sequence[Panel]], header: Sequence[str] = (),
                   zoom: int = 1, boxes: Optional[list] = None) -> np.ndarray:
    """Rows of panels (each zoomed ``zoom`` x, nearest) with their titles above them
    and ``header`` lines (wrapped) on top -> uint8 ``[H, W, 3]``.

    Panels of a row may differ in size. ``boxes``, if given, receives
    ``(title, (left, top, right, bottom))`` of every panel's picture, row by row.
    """
    if not rows or not all(rows):
        raise ValueError('compose_figure needs at least one panel per row')
    font = _font()
    pictures = [[_zoomed(p.image, zoom) for p in row] for row in rows]
    width = max(sum(pic.width for pic in row) + GAP * (len(row) + 1) for row in pictures)
    header_lines = [line for text in header for line in _wrap(text, width - 2 * GAP)]
    row_heights = [max(pic.height for pic in row) + TITLE_LINES * LINE_HEIGHT + GAP
                   for row in pictures]
    top = GAP + LINE_HEIGHT * len(header_lines) + (GAP if header_lines else 0)
    canvas = Image.new('RGB', (width, top + sum(row_heights)), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    for i, line in enumerate(header_lines):
        draw.text((GAP, GAP + i * LINE_HEIGHT), line, fill=INK, font=font)
    y = top
    for row, row_pictures, height in zip(rows, pictures, row_heights):
        x = GAP
        for panel, picture in zip(row, row_pictures):
            for j, line in enumerate(_wrap(panel.title, picture.width)[:TITLE_LINES]):
                draw.text((x, y + j * LINE_HEIGHT), line, fill=INK, font=font)
            canvas.paste(picture, (x, y + TITLE_LINES * LINE_HEIGHT))
            if boxes is not None:
                top_px = y + TITLE_LINES * LINE_HEIGHT
                boxes.append((panel.title, (x, top_px, x + picture.width,
                                            top_px + picture.height)))
            x += picture.width + GAP
        y += height
    return np.asarray(canvas)
