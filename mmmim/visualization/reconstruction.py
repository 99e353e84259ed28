"""What a masked image model reconstructs, as pictures and as numbers.

Pixel targets (MAE, UM-MAE, SimMIM, PixMIM): :func:`reconstruct_pixels` gives per
image the original, the target image (PixMIM's low-pass image; the original
otherwise), the masked input and the reconstruction in one or two variants of undoing
a per-patch normalization:

* ``true patch statistics``: the predicted patch is brought back to pixels with the
  mean and variance of the **true** patch (borrowed from the image, as MAE's figures
  do): shapes are the model's, per-patch brightness and contrast are the image's;
* ``none borrowed``: nothing taken from the masked units. For a target without
  per-patch normalization this is the model's prediction itself; for a normalized
  target it is the prediction in the normalized space shown as is (each patch at
  zero mean, unit variance, drawn with the preprocessor's mean / std).

:func:`masked_unit_errors` measures the mean squared error (0-255 pixel units) of
masked units for the model and three baselines: ``mean_colour`` fills each masked
unit with its own true mean colour (an oracle: it knows every masked unit's mean),
``visible_mean`` fills them with the mean colour of the visible pixels, and
``interpolation`` smoothly interpolates the visible pixels into the masked units
(normalized Gaussian convolution). The last two use only what the model sees. All
tensors are in the data preprocessor's normalized space.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from mmmim.models.targets.pixel import PixelTarget
from mmmim.models.utils import patchify, resample_mask, unpatchify
from mmmim.random_states import preserved_random_states

__all__ = ['PixelReconstruction', 'reconstruct_pixels', 'reconstruction_grid',
           'masked_unit_errors', 'mean_errors', 'seeded_masked_unit_errors', 'model_error',
           'error_scalars', 'BASELINE_KEYS', 'to_uint8', 'masked_input', 'preprocessor_stats',
           'interpolate_visible', 'TRUE_STATS', 'NONE_BORROWED']

TRUE_STATS = 'true patch statistics'
NONE_BORROWED = 'none borrowed'
MASKED_GREY = 128
SECONDARY_TINT = np.array([40, 90, 255], np.float32)  # blue, half blended over the unit


@dataclass
class PixelReconstruction:
    """One image's panels (uint8 ``[H, W, 3]``) and errors.

    Attributes:
        original: the input image.
        target_image: the image the target is cut from (low-pass for PixMIM).
        masked: the input with primarily masked units grey and secondary-masked ones
            tinted blue.
        variants: ``{label: (reconstruction, reconstruction with visible units
            pasted back)}``, label :data:`TRUE_STATS` and / or :data:`NONE_BORROWED`.
        errors: :func:`masked_unit_errors` of this image.
        filtered: whether ``target_image`` differs from ``original`` (image filters).
    """
    original: np.ndarray
    target_image: np.ndarray
    masked: np.ndarray
    variants: Dict[str, Tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    errors: Dict[str, Optional[float]] = field(default_factory=dict)
    filtered: bool = False

    @property
    def reconstruction(self) -> np.ndarray:
        """The first variant's reconstruction with the visible units pasted back."""
        return next(iter(self.variants.values()))[1]

    @property
    def borrowed_statistics(self) -> bool:
        return TRUE_STATS in self.variants


def preprocessor_stats(model) -> Tuple[torch.Tensor, torch.Tensor]:
    """The data preprocessor's ``mean``, ``std`` as ``[3]`` tensors (0 / 1 without)."""
    pre = model.data_preprocessor
    mean = getattr(pre, 'mean', None)
    std = getattr(pre, 'std', None)
    mean = torch.zeros(3) if mean is None else mean.detach().float().flatten().cpu()
    std = torch.ones(3) if std is None else std.detach().float().flatten().cpu()
    return mean, std


def to_uint8(image: torch.Tensor, model) -> np.ndarray:
    """Normalized ``[3, H, W]`` -> ``[H, W, 3]`` uint8 RGB via the preprocessor's mean/std."""
    mean, std = preprocessor_stats(model)
    pixels = image.detach().float().cpu() * std[:, None, None] + mean[:, None, None]
    return pixels.clamp(0, 255).round().byte().permute(1, 2, 0).numpy()


def unit_map(unit_mask: Optional[torch.Tensor], grid: Tuple[int, int], unit: int
             ) -> Optional[np.ndarray]:
    """bool ``[gh*gw]`` on a grid of ``unit``-px units -> bool ``[gh*unit, gw*unit]``."""
    if unit_mask is None:
        return None
    m = unit_mask.view(*grid).cpu().numpy()
    return m.repeat(unit, 0).repeat(unit, 1)


def masked_input(original: np.ndarray, mask: np.ndarray,
                 secondary: Optional[np.ndarray] = None) -> np.ndarray:
    """The encoder's view: masked pixels grey, secondary-masked pixels tinted blue."""
    out = original.astype(np.float32)
    out[mask] = MASKED_GREY
    if secondary is not None:
        out[secondary] = 0.5 * out[secondary] + 0.5 * SECONDARY_TINT
    return out.round().astype(np.uint8)


def _target_space(model, images: torch.Tensor) -> torch.Tensor:
    """Images as the pixel target sees them (its filters applied), fp32."""
    x = images.float()
    for image_filter in model.target.filters:
        x = image_filter(x)
    return x


def _patch_stats(patches: torch.Tensor, eps: float) -> Tuple[torch.Tensor, torch.Tensor]:
    return patches.mean(-1, keepdim=True), (patches.var(-1, keepdim=True) + eps).sqrt()


def _prediction_variants(pred: torch.Tensor, raw: torch.Tensor, target: PixelTarget
                         ) -> Dict[str, torch.Tensor]:
    """``{label: [L, D] patches in the normalized image space}``."""
    if not target.normalize:
        return {NONE_BORROWED: pred}
    mean, std = _patch_stats(raw, target.eps)
    return {TRUE_STATS: pred * std + mean, NONE_BORROWED: pred}


def _pixel_mse(a: torch.Tensor, b: torch.Tensor, weight: torch.Tensor,
               std: torch.Tensor) -> float:
    """Mean squared error in 0-255 units over rows with ``weight`` (patches ``[L, p*p*3]``,
    channel last)."""
    diff = (a - b).view(a.shape[0], -1, 3) * std
    per_unit = diff.pow(2).mean((1, 2))
    return float((per_unit * weight).sum() / weight.sum().clamp(min=1e-6))


def _mean_colour(raw: torch.Tensor) -> torch.Tensor:
    """Each patch ``[L, p*p*3]`` filled with its own per-channel mean colour."""
    per_pixel = raw.view(raw.shape[0], -1, 3)
    return per_pixel.mean(1, keepdim=True).expand_as(per_pixel).reshape(raw.shape)


def _unit_weight(out: dict, grid: Tuple[int, int]) -> torch.Tensor:
    """The primary mask resampled to the target grid, float ``[L']`` on the CPU."""
    return resample_mask(out['mask'][None], out['grid'], grid)[0].float().cpu()


def reconstruct_pixels(model, images: torch.Tensor) -> List[PixelReconstruction]:
    """Run a pixel-target model on normalized images ``[B, 3, H, W]`` (masks drawn
    from the global torch RNG: seed it first for a fixed draw)."""
    target = model.target
    if not isinstance(target, PixelTarget):
        raise TypeError(f'pixel reconstruction needs a PixelTarget, the model has '
                        f'{type(target).__name__}')
    outputs = model.reconstruct(images)
    p, grid = target.patch_size, target.grid(images.shape[-2:])
    filtered = _target_space(model, images)
    raw_patches = patchify(filtered, p)                             # [B, L', p*p*3]
    _, std = preprocessor_stats(model)
    results = []
    for i, out in enumerate(outputs):
        weight = _unit_weight(out, grid)                             # [L']
        pred, raw = out['pred'].float().cpu(), raw_patches[i].cpu()
        show = lambda x: to_uint8(unpatchify(x[None], p, grid)[0], model)  # noqa: E731
        original = to_uint8(images[i], model)
        unit = out['unit_size']
        record = PixelReconstruction(
            original=original, target_image=to_uint8(filtered[i], model),
            masked=masked_input(original, unit_map(out['mask'], out['grid'], unit),
                                unit_map(out.get('secondary'), out['grid'], unit)),
            filtered=len(target.filters) > 0)
        for label, patches in _prediction_variants(pred, raw, target).items():
            pasted = torch.where(weight[:, None] > 0, patches, raw)
            record.variants[label] = (show(patches), show(pasted))
        record.errors = masked_unit_errors_of(pred, raw, weight, target, std, grid)
        results.append(record)
    return results


def _visible_mean(raw: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Every patch ``[L, p*p*3]`` filled with the mean colour of the visible ones
    (``weight`` 0)."""
    per_pixel = raw.view(raw.shape[0], -1, 3)
    visible = per_pixel[weight == 0].reshape(-1, 3)
    colour = visible.mean(0) if len(visible) else per_pixel.reshape(-1, 3).mean(0)
    return colour.expand_as(per_pixel).reshape(raw.shape)


def _gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """``[N, 1, H, W]`` blurred by a separable Gaussian (zero padding)."""
    radius = max(1, int(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=images.dtype)
    kernel = torch.exp(-0.5 * (x / sigma) ** 2)
    kernel = kernel / kernel.sum()
    out = torch.nn.functional.conv2d(images, kernel.view(1, 1, 1, -1), padding=(0, radius))
    return torch.nn.functional.conv2d(out, kernel.view(1, 1, -1, 1), padding=(radius, 0))


def interpolate_visible(raw: torch.Tensor, weight: torch.Tensor, patch: int,
                        grid: Tuple[int, int]) -> torch.Tensor:
    """Patches ``[L, p*p*3]`` whose masked ones (``weight`` > 0) are the visible
    pixels smoothly spread into them: normalized convolution, ``blur(image *
    visible) / blur(visible)``, with a Gaussian of sigma ``patch / 2``."""
    image = unpatchify(raw[None], patch, grid)[0]                   # [3, H, W]
    visible = unpatchify((weight == 0).float()[None, :, None].expand(1, -1, raw.shape[1]),
                         patch, grid)[0, :1]                        # [1, H, W]
    sigma = patch / 2
    spread = _gaussian_blur((image * visible)[:, None], sigma)[:, 0]
    support = _gaussian_blur(visible[None], sigma)[0].clamp(min=1e-6)
    return patchify((spread / support)[None], patch)[0]


def masked_unit_errors_of(pred: torch.Tensor, raw: torch.Tensor, weight: torch.Tensor,
                          target: PixelTarget, std: torch.Tensor,
                          grid: Tuple[int, int]) -> Dict[str, Optional[float]]:
    """One image's masked-unit MSE (0-255 units): ``model`` (nothing borrowed; None
    for a per-patch normalized target, which has no pixels without borrowing),
    ``model_true_stats`` (normalized targets only), and the baselines ``mean_colour``
    (each masked unit filled with its true mean colour: an oracle), ``visible_mean``
    (with the visible pixels' mean colour) and ``interpolation``
    (:func:`interpolate_visible`). ``raw``, ``pred``: ``[L, p*p*3]`` on ``grid``."""
    errors = dict(model=None, model_true_stats=None,
                  mean_colour=_pixel_mse(_mean_colour(raw), raw, weight, std),
                  visible_mean=_pixel_mse(_visible_mean(raw, weight), raw, weight, std),
                  interpolation=_pixel_mse(
                      interpolate_visible(raw, weight, target.patch_size, grid),
                      raw, weight, std))
    variants = _prediction_variants(pred, raw, target)
    if target.normalize:
        errors['model_true_stats'] = _pixel_mse(variants[TRUE_STATS], raw, weight, std)
    else:
        errors['model'] = _pixel_mse(variants[NONE_BORROWED], raw, weight, std)
    return errors


def mean_errors(errors: Sequence[Dict[str, Optional[float]]]) -> Dict[str, Optional[float]]:
    """Mean of each error over ``errors`` (dicts of :func:`masked_unit_errors_of`;
    None stays None)."""
    return {k: (None if errors[0][k] is None else float(np.mean([e[k] for e in errors])))
            for k in errors[0]}


def masked_unit_errors(results: Sequence[PixelReconstruction]) -> Dict[str, Optional[float]]:
    """Mean over images of each error of :func:`masked_unit_errors_of` (None stays None)."""
    return mean_errors([r.errors for r in results])


def seeded_masked_unit_errors(model, images: torch.Tensor, seeds: Sequence[int]
                              ) -> Dict[str, Optional[float]]:
    """:func:`masked_unit_errors` of normalized ``images`` ``[B, 3, H, W]`` averaged
    over one mask draw per seed (the global torch generator seeded with it); the
    global random states are restored afterwards."""
    per_seed = []
    with preserved_random_states():
        for seed in seeds:
            torch.manual_seed(seed)
            per_seed.append(masked_unit_errors(reconstruct_pixels(model, images)))
    return mean_errors(per_seed)


def model_error(errors: Dict[str, Optional[float]]) -> Tuple[float, str]:
    """(the model's masked-unit error, what was borrowed to get it): ``model`` (nothing
    borrowed) where the target has it, else ``model_true_stats``."""
    if errors['model'] is not None:
        return errors['model'], 'nothing borrowed'
    return errors['model_true_stats'], 'per-patch statistics borrowed from the image'


#: the baselines beside the model's error: their keys in :func:`masked_unit_errors_of`
BASELINE_KEYS = ('visible_mean', 'interpolation', 'mean_colour')


def error_scalars(errors: Dict[str, Optional[float]]) -> Dict[str, float]:
    """Errors as flat scalars to log: ``mse_model`` (or ``mse_model_true_stats`` when
    the target has no unborrowed error), ``mse_<baseline>`` and ``model_over_<baseline>``
    (the model's error / the baseline's: below 1 beats it) for :data:`BASELINE_KEYS`."""
    model_err, how = model_error(errors)
    name = 'model' if how == 'nothing borrowed' else 'model_true_stats'
    scalars = {f'mse_{name}': model_err}
    for key in BASELINE_KEYS:
        scalars[f'mse_{key}'] = errors[key]
        scalars[f'model_over_{key}'] = model_err / max(errors[key], 1e-12)
    return scalars


def reconstruction_grid(results: Sequence[PixelReconstruction], gap: int = 4) -> np.ndarray:
    """Untitled rows of (original | masked | reconstruction with visible units pasted
    back, first variant) -> one uint8 image (the titled figure is
    :func:`mmmim.visualization.figures.reconstruction_figure`)."""
    rows = []
    for r in results:
        spacer = np.full((r.original.shape[0], gap, 3), 255, np.uint8)
        rows.append(np.concatenate([r.original, spacer, r.masked, spacer, r.reconstruction],
                                   axis=1))
    width = max(row.shape[1] for row in rows)
    blank = np.full((gap, width, 3), 255, np.uint8)
    out = []
    for row in rows:
        out += [row, blank]
    return np.concatenate(out[:-1], axis=0)
