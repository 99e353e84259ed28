from .hog import HOGTarget
from .lowpass import LowPassFilter, lowpass_keep_mask
from .pixel import PixelTarget, normalize_per_patch

__all__ = ['HOGTarget', 'LowPassFilter', 'PixelTarget', 'lowpass_keep_mask', 'normalize_per_patch']
