from .hog import HOGTarget
from .lowpass import LowPassFilter, lowpass_keep_mask
from .multiscale_pixel import MultiScalePixelTarget
from .pixel import PixelTarget, normalize_per_patch

__all__ = ['HOGTarget', 'LowPassFilter', 'MultiScalePixelTarget', 'PixelTarget',
           'lowpass_keep_mask', 'normalize_per_patch']
