"""SimMIM's random block masking as a registered module."""
from mmmim.registry import MODELS

from .random_masker import RandomMasker


@MODELS.register_module()
class BlockMasker(RandomMasker):
    """SimMIM's masking: exactly ``round(ratio * L)`` units of ``unit_size`` pixels
    per sample (32-px blocks, ratio 0.6). It is MAE's random masker on a coarser
    unit; the encoder resamples the mask to its own patch grid (4-px patches for
    pyramids, 16 for ViT), so the model patch size is never stated here.

    Args:
        ratio: fraction of units masked.
        unit_size: mask-unit side in pixels.
    """

    def __init__(self, ratio: float = 0.6, unit_size: int = 32) -> None:
        super().__init__(ratio=ratio, unit_size=unit_size)
