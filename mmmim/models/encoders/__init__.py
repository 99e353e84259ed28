from mmmim.mmcv_ops import register_needs_ops
from mmmim.registry import MODELS

from .swin import MaskedSwin
from .vit import MaskedViT

try:  # mmdet's PVT, which MaskedPVT extends, imports mmcv's compiled ops
    from .pvt import MaskedPVT
except ModuleNotFoundError as error:  # an mmcv without them: building it says how
    MaskedPVT = register_needs_ops(MODELS, 'MaskedPVT', error)

__all__ = ['MaskedPVT', 'MaskedSwin', 'MaskedViT']
