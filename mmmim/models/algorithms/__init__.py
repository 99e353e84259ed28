from .masked_image_model import MaskedImageModel, build_slot

__all__ = ['MaskedImageModel', 'build_slot']
