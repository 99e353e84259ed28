"""What the masked pyramid encoders (:class:`~.swin.MaskedSwin`,
:class:`~.pvt.MaskedPVT`) share: the two masking modes and their learnable tokens,
the replacement of masked tokens, the pretraining-init dispatch and the
:class:`EncoderOutput` of the masked forward.

- ``masking='compact'`` (UM-MAE): the encoder runs on the compact grid, one visible
  unit per 2x2 window (:mod:`.compaction`); tokens of secondary-masked units become
  ``secondary_token`` (when built with one).
- ``masking='mask_token'`` (SimMIM): the full grid, every token of a masked unit
  becomes ``mask_token``.
"""
from typing import Dict, Optional, Tuple

import torch
from torch import nn

from ..structures import EncoderOutput, MaskSet
from ..utils import resample_mask
from .compaction import compact_units
from .weight_init import WEIGHT_INITS, init_simmim_weights, init_ummae_weights

MASKING_MODES = ('compact', 'mask_token')


def replace_tokens(tokens: torch.Tensor, hw: Tuple[int, int], units: torch.Tensor,
                   grid: Tuple[int, int], token: Optional[nn.Parameter],
                   name: str) -> torch.Tensor:
    """tokens ``[B, h*w, C]``; units bool ``[B, grid]`` -> tokens with every token of
    a True unit replaced by ``token`` ``[1, 1, C]``."""
    if token is None:
        raise ValueError(f'the masks need a {name} but the encoder was built without one')
    where = resample_mask(units, grid, hw)[..., None]           # [B, h*w, 1]
    return torch.where(where, token.to(tokens.dtype), tokens)


class MaskedPyramid:
    """Mixin of a masked pyramid encoder, listed before its backbone class
    (``class MaskedSwin(MaskedPyramid, SwinTransformer)``). The encoder calls
    :meth:`check_modes` before building the backbone and :meth:`add_tokens` after,
    and names the layers of UM-MAE's init in :meth:`ummae_init_layers`."""

    masking: str
    weight_init: str
    secondary_token: Optional[nn.Parameter]
    mask_token: Optional[nn.Parameter]

    @staticmethod
    def check_modes(masking: str, weight_init: str) -> None:
        """Raise ValueError for an unknown ``masking`` or ``weight_init``."""
        if masking not in MASKING_MODES:
            raise ValueError(f'masking must be one of {MASKING_MODES}, got {masking!r}')
        if weight_init not in WEIGHT_INITS:
            raise ValueError(f'weight_init must be one of {WEIGHT_INITS}, got {weight_init!r}')

    def add_tokens(self, masking: str, weight_init: str, secondary_token: bool,
                   dims: int) -> None:
        """Keep the modes; add ``secondary_token`` ``[1, 1, dims]`` (compact mode, if
        asked for) and ``mask_token`` ``[1, 1, dims]`` (mask-token mode), else None."""
        self.masking = masking
        self.weight_init = weight_init
        use_secondary = masking == 'compact' and secondary_token
        self.secondary_token = nn.Parameter(torch.zeros(1, 1, dims)) if use_secondary else None
        self.mask_token = (nn.Parameter(torch.zeros(1, 1, dims))
                           if masking == 'mask_token' else None)

    @property
    def loads_pretrained(self) -> bool:
        """Whether ``init_cfg`` loads a checkpoint (then no pretraining init runs)."""
        return isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained'

    def init_weights(self) -> None:
        """The backbone's init, then ``weight_init``'s pretraining init over it (see
        :mod:`.weight_init`), unless a checkpoint is loaded."""
        super().init_weights()
        if self.loads_pretrained:
            return
        tokens = (self.secondary_token, self.mask_token)
        if self.weight_init == 'simmim':
            init_simmim_weights(self, tokens)
        else:
            stem, layers = self.ummae_init_layers()
            init_ummae_weights(self, stem, tokens, **layers)

    def ummae_init_layers(self) -> Tuple[nn.Conv2d, Dict[str, list]]:
        """The stage-1 patch-embedding conv and the keyword arguments of
        :func:`.weight_init.init_ummae_weights` that name the family's layers."""
        raise NotImplementedError

    def replace_masked(self, tokens: torch.Tensor, hw: Tuple[int, int], masks: MaskSet,
                       choice: Optional[torch.Tensor]) -> torch.Tensor:
        """Stage-1 tokens ``[B, h*w, C]`` with the secondary token (compact grid, window
        ``choice`` ``[B, gh/2, gw/2]``) or the mask token (full grid, ``choice`` None)
        in place of the masked units' tokens."""
        if choice is not None:
            if masks.secondary is None:
                return tokens
            return replace_tokens(tokens, hw, compact_units(masks.secondary, choice),
                                  choice.shape[1:], self.secondary_token, 'secondary_token')
        if masks.secondary is not None:
            raise ValueError('mask-token mode takes no secondary mask')
        return replace_tokens(tokens, hw, masks.mask, masks.grid, self.mask_token, 'mask_token')

    def encoder_output(self, tokens: torch.Tensor, hw: Tuple[int, int],
                       taps: Dict[str, torch.Tensor],
                       tap_hw: Dict[str, Tuple[int, int]]) -> EncoderOutput:
        """What the masked forward returns: the last stage's normed tokens ``[B, h*w,
        C]`` on the ``hw`` grid and the named stage outputs with their grids, laid
        out compact or over the full grid (:attr:`EncoderOutput.layout`)."""
        return EncoderOutput(tokens=tokens, hw=hw, taps=taps, tap_hw=tap_hw,
                             layout='compact' if self.masking == 'compact' else 'full_grid')
