from .pvt import MaskedPVT, pooled_sr_to_conv
from .swin import MaskedSwin
from .vit import MaskedViT

__all__ = ['MaskedPVT', 'MaskedSwin', 'MaskedViT', 'pooled_sr_to_conv']
