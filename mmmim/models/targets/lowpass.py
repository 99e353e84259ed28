"""PixMIM's low-frequency image filter (Liu et al., arXiv 2303.02416).

Definition (per image, per colour channel, in fp32)::

    raw  = x * std + mean                   # undo the preprocessor's normalization
    F    = FFT2(raw)                        # zero frequency at bin (0, 0)
    keep = (ky / H)^2 + (kx / W)^2 <= (radius / reference_size)^2
    low  = |IFFT2(F * keep)|                # ideal circular low-pass, magnitude
    out  = (low - mean) / std               # back to the normalized space

``output='magnitude'`` (default) is the PixMIM code's ``abs()`` of the inverse
transform; ``output='real'`` takes its real part instead. They differ only where the
low-pass image goes negative in raw pixel space (ringing next to dark regions),
which the magnitude folds up (docs/targets.md shows both and measures the gap).

``ky, kx`` are signed integer frequency bins (``fftfreq * size``), so the pass band
is centred exactly on the DC bin whatever the parity of H and W, and the mask is
point-symmetric (``keep(k) == keep(-k)``): the filtered spectrum stays Hermitian and
the inverse transform is real (up to round-off). The cut-off is fixed in cycles per pixel
(``radius / reference_size``): at a square input of S pixels it is a circle of
``radius * S / reference_size`` bins (40 at 224 keeps 5025 of 50176 bins, 10.0%),
at H x W an ellipse in bins that keeps the same band of spatial frequencies.
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from mmmim.registry import MODELS

Stats = Optional[Union[torch.Tensor, Sequence[float]]]


def lowpass_keep_mask(size: Tuple[int, int], cutoff: float, onesided: bool = True,
                      device=None) -> torch.Tensor:
    """Bool pass band of an ideal circular low-pass in FFT layout (DC at ``[0, 0]``).

    Args:
        size: ``(H, W)`` of the image.
        cutoff: radius of the pass band in cycles per pixel (``radius / reference_size``).
        onesided: ``[H, W // 2 + 1]`` (``rfft2`` layout) if True, else ``[H, W]``.
    """
    h, w = size
    ky = torch.fft.fftfreq(h, dtype=torch.float64, device=device)  # k / H, DC first
    kx = (torch.fft.rfftfreq(w, dtype=torch.float64, device=device) if onesided
          else torch.fft.fftfreq(w, dtype=torch.float64, device=device))
    dist2 = ky[:, None]**2 + kx[None, :]**2
    # relative tolerance: bins exactly on the circle (e.g. (24, 32) at r = 40) are kept
    return dist2 <= cutoff**2 * (1 + 1e-9)


@MODELS.register_module()
class LowPassFilter(nn.Module):
    """Ideal circular low-pass filter on normalized images (PixMIM's target filter).

    ``[B, C, H, W]`` normalized images -> ``[B, C, H, W]`` fp32 low-frequency images in
    the same normalized space (any H, W; autocast is disabled inside). It keeps the
    image grid, so it needs no mask resampling: compose it in front of a per-patch
    target, ``PixelTarget(filters=[dict(type='LowPassFilter')])``.

    The preprocessor's ``mean``/``std`` must be bound first
    (:meth:`bind_normalization`; :class:`MaskedImageModel` does it from its
    ``data_preprocessor``). ``output='magnitude'`` (default) reproduces the paper
    code's ``abs()`` of the inverse transform, which rectifies the negative ringing
    lobes of the raw image and so depends on where zero lies, i.e. on the true
    ``mean``/``std`` (why they must be bound). ``output='real'`` (an option,
    ``configs/pixmim/*-real.py``) is linear and keeps DC, so un- and re-normalizing
    cancel exactly and the target does not depend on the statistics.

    Args:
        radius: pass-band radius in frequency bins at ``reference_size`` (40 at 224).
        reference_size: input side at which ``radius`` is given; the radius scales
            with the input size (constant cut-off in cycles per pixel).
        output: 'magnitude' (modulus of the inverse FFT, the paper's) or 'real'
            (its real part).
    """

    def __init__(self, radius: float = 40., reference_size: int = 224,
                 output: str = 'magnitude') -> None:
        super().__init__()
        if radius <= 0 or reference_size <= 0:
            raise ValueError(f'radius and reference_size must be positive, got '
                             f'{radius} and {reference_size}')
        if output not in ('real', 'magnitude'):
            raise ValueError(f"output must be 'real' or 'magnitude', got {output!r}")
        self.radius = float(radius)
        self.reference_size = reference_size
        self.output = output
        self.register_buffer('mean', None, persistent=False)  # [1, C, 1, 1] or None
        self.register_buffer('std', None, persistent=False)
        self._bound = False
        self._masks: Dict[tuple, torch.Tensor] = {}  # (H, W, device) -> fp32 rfft mask

    @property
    def cutoff(self) -> float:
        """Pass-band radius in cycles per pixel."""
        return self.radius / self.reference_size

    def bind_normalization(self, mean: Stats, std: Stats) -> None:
        """Record the preprocessor's normalization ``x = (raw - mean) / std``
        (``[C, 1, 1]`` tensors or sequences, any pixel scale). ``None`` for both means
        the preprocessor does not normalize (images arrive in raw pixel space)."""
        if (mean is None) != (std is None):
            raise ValueError('bind both mean and std, or neither')
        if mean is not None:
            mean = torch.as_tensor(mean, dtype=torch.float32).reshape(1, -1, 1, 1).clone()
            std = torch.as_tensor(std, dtype=torch.float32).reshape(1, -1, 1, 1).clone()
            if mean.shape != std.shape or not bool((std > 0).all()):
                raise ValueError(f'mean {mean.flatten().tolist()} and std '
                                 f'{std.flatten().tolist()} must match and std be > 0')
        self.mean, self.std, self._bound = mean, std, True

    def keep_mask(self, size: Tuple[int, int], device=None) -> torch.Tensor:
        """fp32 ``[H, W // 2 + 1]`` pass band in ``rfft2`` layout, cached per size/device."""
        key = (*size, str(device))
        if key not in self._masks:
            self._masks[key] = lowpass_keep_mask(size, self.cutoff, device=device).float()
        return self._masks[key]

    def dc_shift(self, x: torch.Tensor) -> Optional[torch.Tensor]:
        """``mean / std`` as ``[1, C, 1, 1]`` in ``x``'s dtype and device (None unbound)."""
        return None if self.mean is None else (self.mean / self.std).to(x)

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``[B, C, H, W]`` -> ``[B, C, H, W]`` fp32, one rfft2/irfft2 pair per batch.

        The filter is linear and keeps DC, so it runs on the normalized images
        directly: ``low = (L(raw) - mean) / std = L(x)``. The magnitude needs raw's
        sign, ``(|L(raw)| - mean) / std = |L(x) + mean / std| - mean / std`` (std > 0),
        and the ``+ mean / std`` is added to the DC bin (``* H * W``, numpy's
        unnormalized forward FFT), so besides the FFT pair only three passes touch
        the full batch: the pass band (in place, on the half spectrum), ``abs_`` and
        ``sub_``.
        """
        if not self._bound:
            raise RuntimeError(
                'LowPassFilter: the normalization is not bound. Call '
                'bind_normalization(mean, std) with the data preprocessor\'s statistics '
                '(MaskedImageModel does this for its target at construction).')
        size = tuple(images.shape[-2:])
        with torch.autocast(device_type=images.device.type, enabled=False):
            x = images.float()
            spectrum = torch.fft.rfft2(x)                           # [B, C, H, W//2+1]
            spectrum.mul_(self.keep_mask(size, x.device))
            if self.output == 'real':
                return torch.fft.irfft2(spectrum, s=size)
            shift = self.dc_shift(x)
            if shift is not None:
                spectrum[..., 0, 0] += shift.flatten(1) * (size[0] * size[1])
            low = torch.fft.irfft2(spectrum, s=size).abs_()         # |raw low-pass| / std
            return low if shift is None else low.sub_(shift)

    def extra_repr(self) -> str:
        return (f'radius={self.radius}, reference_size={self.reference_size}, '
                f'output={self.output!r}')
