from .block_masker import BlockMasker
from .random_masker import RandomMasker, grid_of, random_mask
from .uniform_masker import UniformMasker, secondary_mask, uniform_mask

__all__ = ['BlockMasker', 'RandomMasker', 'UniformMasker', 'grid_of', 'random_mask',
           'secondary_mask', 'uniform_mask']
