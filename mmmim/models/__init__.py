"""Masked image models by role: maskers, encoders, decoders, targets, losses and the
algorithms that compose them; backbones and necks for downstream models. Importing
this package registers every module."""
from . import (  # noqa: F401
    algorithms,
    decoders,
    encoders,
    gpu_decode_preprocessor,
    losses,
    maskers,
    necks,
    targets,
    vitdet,
)
from .structures import EncoderOutput, MaskSet

__all__ = ['EncoderOutput', 'MaskSet']
