from .reconstruction import MaskedReconstructionLoss

__all__ = ['MaskedReconstructionLoss']
