from .vit import MaskedViT

__all__ = ['MaskedViT']
