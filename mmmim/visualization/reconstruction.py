"""Original / masked / reconstruction grids for pixel-target models."""
from typing import List, Sequence

import numpy as np
import torch

from mmmim.models.targets.pixel import PixelTarget
from mmmim.models.utils import patchify, unpatchify

__all__ = ['reconstruct_pixels', 'reconstruction_grid']


def reconstruct_pixels(model, images: torch.Tensor) -> List[dict]:
    """Run a pixel-target model on normalized images ``[B, 3, H, W]``.

    Returns per image ``original``, ``masked`` and ``reconstruction`` as
    ``[H, W, 3]`` uint8 arrays, plus ``borrowed_statistics``: True when the target
    is normalized per patch, in which case the predicted patches are brought back to
    pixels with the **true** patch mean and variance (of the target image), as in
    MAE's own visualization; the shapes and textures are the model's, the per-patch
    brightness and contrast are borrowed from the image.
    """
    target_module = model.target
    if not isinstance(target_module, PixelTarget):
        raise TypeError(f'pixel reconstruction needs a PixelTarget, the model has '
                        f'{type(target_module).__name__}')
    outputs = model.reconstruct(images)
    p = target_module.patch_size
    grid = target_module.grid(images.shape[-2:])
    raw = images.float()
    for image_filter in target_module.filters:
        raw = image_filter(raw)
    raw_patches = patchify(raw, p)                                  # [B, L, p*p*3]
    results = []
    for i, out in enumerate(outputs):
        pred = out['pred'].float()
        if target_module.normalize:
            mean = raw_patches[i].mean(-1, keepdim=True)
            std = (raw_patches[i].var(-1, keepdim=True) + target_module.eps).sqrt()
            pred = pred * std + mean
        weight = _unit_mask(out, grid)                               # [L'] bool
        pasted = torch.where(weight[:, None], pred, raw_patches[i])
        masked = torch.where(weight[:, None], torch.zeros_like(pred), raw_patches[i])
        to_img = lambda x: _to_uint8(unpatchify(x[None], p, grid)[0], model)  # noqa: E731
        results.append(dict(original=_to_uint8(images[i], model), masked=to_img(masked),
                            reconstruction=to_img(pasted),
                            borrowed_statistics=target_module.normalize))
    return results


def _unit_mask(out: dict, grid) -> torch.Tensor:
    from mmmim.models.utils import resample_mask
    return resample_mask(out['mask'][None], out['grid'], grid)[0] > 0


def _to_uint8(image: torch.Tensor, model) -> np.ndarray:
    """Normalized ``[3, H, W]`` -> ``[H, W, 3]`` uint8 RGB via the preprocessor's mean/std."""
    pre = model.data_preprocessor
    mean = getattr(pre, 'mean', torch.zeros(3, 1, 1)).to(image)
    std = getattr(pre, 'std', torch.ones(3, 1, 1)).to(image)
    pixels = (image * std + mean).clamp(0, 255).round().byte()
    return pixels.permute(1, 2, 0).cpu().numpy()


def reconstruction_grid(results: Sequence[dict], gap: int = 4) -> np.ndarray:
    """Rows of (original | masked | reconstruction) for each image -> one uint8 image."""
    rows = []
    for r in results:
        h = r['original'].shape[0]
        spacer = np.full((h, gap, 3), 255, np.uint8)
        rows.append(np.concatenate([r['original'], spacer, r['masked'], spacer,
                                    r['reconstruction']], axis=1))
    width = max(row.shape[1] for row in rows)
    blank = np.full((gap, width, 3), 255, np.uint8)
    out = []
    for row in rows:
        out += [row, blank]
    return np.concatenate(out[:-1], axis=0)
