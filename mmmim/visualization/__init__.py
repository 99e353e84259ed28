from .reconstruction import reconstruct_pixels, reconstruction_grid

__all__ = ['reconstruct_pixels', 'reconstruction_grid']
