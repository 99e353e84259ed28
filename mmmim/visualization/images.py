"""Images for the reconstruction figures: files -> a normalized batch."""
from pathlib import Path
from typing import List, Sequence, Tuple

import numpy as np
import torch
from PIL import Image

__all__ = ['load_square', 'load_batch', 'load_model', 'image_size_of']


def load_square(path, size: int) -> np.ndarray:
    """RGB uint8 ``[size, size, 3]``: shorter side resized to ``size`` (bicubic),
    centre crop. Raises naming the file when it cannot be read."""
    try:
        image = Image.open(path).convert('RGB')
    except (OSError, ValueError) as error:
        raise ValueError(f'cannot read image {path}: {error}') from error
    scale = size / min(image.size)
    image = image.resize((max(size, round(image.width * scale)),
                          max(size, round(image.height * scale))), Image.BICUBIC)
    left, top = (image.width - size) // 2, (image.height - size) // 2
    return np.asarray(image.crop((left, top, left + size, top + size)))


def load_batch(model, paths: Sequence, size: int) -> Tuple[torch.Tensor, List[str]]:
    """``[B, 3, size, size]`` in the model preprocessor's normalized space, and the
    files' stem names."""
    from .reconstruction import preprocessor_stats
    arrays = [load_square(p, size) for p in paths]
    batch = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float()
    mean, std = preprocessor_stats(model)
    device = next(model.parameters()).device
    inputs = (batch - mean[:, None, None]) / std[:, None, None]
    return inputs.to(device), [Path(p).stem for p in paths]


def image_size_of(cfg) -> int:
    """The square input side a config trains at: the encoder's ``img_size``."""
    size = cfg.model.encoder.get('img_size', 224)
    return size if isinstance(size, int) else int(size[0])


def load_model(config, checkpoint=None):
    """``(cfg, model)``: the config's model in eval mode on the CPU, with the
    checkpoint's weights loaded strictly (random weights when ``checkpoint`` is None)."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner import load_checkpoint

    import mmmim  # noqa: F401  (stack shims)
    from mmmim.registry import MODELS
    cfg = config if isinstance(config, Config) else Config.fromfile(str(config))
    init_default_scope(cfg.get('default_scope', 'mmmim'))
    model = MODELS.build(cfg.model)
    if checkpoint is None:
        model.init_weights()
    else:
        if not Path(checkpoint).is_file():
            raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
        load_checkpoint(model, str(checkpoint), map_location='cpu', strict=True,
                        logger='silent')
    return cfg, model.eval()
