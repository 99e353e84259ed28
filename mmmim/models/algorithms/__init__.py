from .masked_image_model import MaskedImageModel, build_slot
from .multi_level import MultiLevelMaskedImageModel

__all__ = ['MaskedImageModel', 'MultiLevelMaskedImageModel', 'build_slot']
