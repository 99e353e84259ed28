from .pixel import PixelTarget, normalize_per_patch

__all__ = ['PixelTarget', 'normalize_per_patch']
