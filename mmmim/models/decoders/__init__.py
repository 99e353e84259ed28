from .localmim_decoder import LocalMIMDecoder
from .mae_decoder import MAEDecoder
from .simmim_decoder import SimMIMDecoder
from .ummae_decoder import UMMAEDecoder

__all__ = ['LocalMIMDecoder', 'MAEDecoder', 'SimMIMDecoder', 'UMMAEDecoder']
