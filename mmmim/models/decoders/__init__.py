from .mae_decoder import MAEDecoder
from .simmim_decoder import SimMIMDecoder
from .ummae_decoder import UMMAEDecoder

__all__ = ['MAEDecoder', 'SimMIMDecoder', 'UMMAEDecoder']
