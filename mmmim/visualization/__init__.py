"""Reconstruction figures of masked image models (see :mod:`.figures`), and the
visualizer backend :class:`LocalMLflowVisBackend` (:mod:`.trackers`)."""
from .canvas import Panel, compose_figure
from .figures import Figure, reconstruction_figure
from .hog_glyphs import hog_glyph_image
from .images import image_size_of, load_batch, load_model, load_square
from .reconstruction import (
                             PixelReconstruction,
                             masked_unit_errors,
                             reconstruct_pixels,
                             reconstruction_grid,
)
from .trackers import LocalMLflowVisBackend

__all__ = ['Figure', 'LocalMLflowVisBackend', 'Panel', 'PixelReconstruction', 'compose_figure',
           'hog_glyph_image', 'image_size_of', 'load_batch', 'load_model', 'load_square',
           'masked_unit_errors', 'reconstruct_pixels', 'reconstruction_figure',
           'reconstruction_grid']
