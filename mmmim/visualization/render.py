"""A checkpoint's reconstruction figure written to a file (the tools' common step)."""
from typing import Optional, Sequence

import torch
from PIL import Image

from mmmim.random_states import preserved_random_states

from .figures import Figure, reconstruction_figure
from .images import image_size_of, load_batch, load_model

__all__ = ['draw_figure', 'render_checkpoint', 'default_zoom']


def default_zoom(size: int) -> int:
    """Panel magnification: 2 for inputs below 160 px, else 1."""
    return 2 if size < 160 else 1


def draw_figure(model, images: Sequence, size: int, seed: int, header: Sequence[str] = (),
                zoom: Optional[int] = None) -> Figure:
    """The figure of the image files ``images`` at ``size`` px, masks drawn from the
    global torch generator seeded with ``seed``, in eval mode; the global random
    states and the model's train / eval mode are restored afterwards."""
    was_training = model.training
    with preserved_random_states():
        torch.manual_seed(seed)
        model.eval()
        try:
            batch, names = load_batch(model, images, size)
            return reconstruction_figure(model, batch, names, header,
                                         zoom or default_zoom(size))
        finally:
            model.train(was_training)


def render_checkpoint(config, checkpoint: Optional[str], images: Sequence, out: str,
                      seed: int = 0, image_size: Optional[int] = None,
                      zoom: Optional[int] = None, extra_header: Sequence[str] = ()
                      ) -> Figure:
    """Load ``config`` with ``checkpoint`` (None: random init), draw the figure of
    ``images`` with masks seeded by ``seed`` (the caller's random state is kept) and
    save it as ``out`` (PNG); returns the :class:`Figure`."""
    cfg, model = load_model(config, checkpoint)
    size = image_size or image_size_of(cfg)
    header = [f'config: {config}', f'checkpoint: {checkpoint or "none (random init)"}',
              f'mask seed: {seed}; {size} px', *extra_header]
    figure = draw_figure(model, images, size, seed, header, zoom)
    Image.fromarray(figure.image).save(out)
    return figure
