from .random_masker import RandomMasker, grid_of, random_mask

__all__ = ['RandomMasker', 'grid_of', 'random_mask']
