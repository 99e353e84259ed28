"""Masked image models by role: maskers, encoders, decoders, targets, losses and the
algorithms that compose them, and downstream necks. Importing this package registers
every module."""
from . import algorithms, decoders, encoders, losses, maskers, necks, targets  # noqa: F401
from .structures import EncoderOutput, MaskSet

__all__ = ['EncoderOutput', 'MaskSet']
