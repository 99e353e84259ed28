"""The masked image model: masker -> encoder -> decoder -> target -> loss."""
from typing import Dict, List, Optional, Union

import torch
from mmengine.model import BaseModel
from torch import nn

from mmmim.registry import MODELS

from ..structures import MaskSet
from ..utils import gather_rows, resample_mask

ModuleOrCfg = Union[dict, nn.Module]


def build_slot(slot: Optional[ModuleOrCfg]) -> Optional[nn.Module]:
    """A slot is given either as a config dict or as a built module."""
    if slot is None or isinstance(slot, nn.Module):
        return slot
    return MODELS.build(slot)


def with_derived_dims(decoder: ModuleOrCfg, encoder: nn.Module, masker: nn.Module
                      ) -> ModuleOrCfg:
    """Fill a decoder config's ``in_dims`` (encoder width, ``encoder.out_dims``) and
    ``unit_size`` (the masker's unit) when the config leaves them out, so configs
    state each dimension once."""
    if not isinstance(decoder, dict):
        return decoder
    derived = dict(in_dims=getattr(encoder, 'out_dims', None),
                   unit_size=getattr(masker, 'unit_size', None))
    return {**{k: v for k, v in derived.items() if v is not None}, **decoder}


@MODELS.register_module()
class MaskedImageModel(BaseModel):
    """A masked image model assembled from five registered slots.

    ``loss()`` reads like the papers::

        masks  = masker(images)            # bool [B, L], True = masked
        latent = encoder(images, masks)    # tokens of the visible units
        pred   = decoder(latent, masks)    # [B, L', D] on the target's grid
        loss   = loss(pred, target(images), masks.mask resampled to L')

    MAE, UM-MAE, SimMIM and PixMIM are configs of this class; LocalMIM swaps the
    decoder and target for multi-level ones (:class:`MultiLevelMaskedImageModel`).

    Args:
        masker, encoder, decoder, target: dicts or modules.
        loss: dict or module; default masked MSE.
        data_preprocessor: dict or module; default mmengine's ImgDataPreprocessor.
            Its mean/std are handed to targets that undo the normalization.
    """

    def __init__(self, masker: ModuleOrCfg, encoder: ModuleOrCfg, decoder: ModuleOrCfg,
                 target: ModuleOrCfg, loss: ModuleOrCfg = dict(type='MaskedReconstructionLoss'),
                 data_preprocessor: Optional[ModuleOrCfg] = None, init_cfg=None) -> None:
        if data_preprocessor is None or isinstance(data_preprocessor, dict):
            data_preprocessor = {'type': 'ImgDataPreprocessor', **(data_preprocessor or {})}
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.masker = build_slot(masker)
        self.encoder = build_slot(encoder)
        self.decoder = build_slot(with_derived_dims(decoder, self.encoder, self.masker))
        self.target = build_slot(target)
        self.loss_module = build_slot(loss)
        if hasattr(self.target, 'bind_normalization'):
            self.target.bind_normalization(getattr(self.data_preprocessor, 'mean', None),
                                           getattr(self.data_preprocessor, 'std', None))

    def forward(self, inputs: torch.Tensor, data_samples: Optional[list] = None,
                mode: str = 'tensor'):
        """``mode``: 'loss' -> dict of losses; 'tensor' -> encoder features of the
        whole image; 'predict' -> reconstruction outputs (see :meth:`reconstruct`)."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'tensor':
            return self.encoder(inputs)
        if mode == 'predict':
            return self.reconstruct(inputs)
        raise RuntimeError(f'invalid mode {mode!r}: use loss, tensor or predict')

    def loss(self, inputs: torch.Tensor, data_samples: Optional[list] = None
             ) -> Dict[str, torch.Tensor]:
        masks = self.masker(inputs)
        latent = self.encoder(inputs, masks)
        target = self.target(inputs)
        rows = self.loss_rows(masks, inputs)                   # None: every unit
        pred = (self.decoder(latent, masks) if rows is None
                else self.decoder(latent, masks, rows=rows))   # [B, L' or M, D]
        return dict(loss=self.reconstruction_loss(pred, target, masks, inputs, rows))

    def loss_rows(self, masks: MaskSet, inputs: torch.Tensor) -> Optional[torch.Tensor]:
        """``masks.masked_rows`` when the loss reads nothing else, so the decoder
        predicts those units alone: it can (``predicts_rows``), the masker drew a
        known count per image, and the target's units are the mask's (the loss
        weight is then the mask itself). Else None: predict every unit."""
        if (getattr(self.decoder, 'predicts_rows', False) and masks.num_masked is not None
                and tuple(self.target.grid(inputs.shape[-2:])) == tuple(masks.grid)):
            return masks.masked_rows
        return None

    def reconstruction_loss(self, pred: torch.Tensor, target: torch.Tensor, masks: MaskSet,
                            inputs: torch.Tensor, rows: Optional[torch.Tensor] = None
                            ) -> torch.Tensor:
        """Loss over the primarily masked units: ``pred`` of every unit of the
        target's grid weighted by the mask resampled there, or, with ``rows``, of
        those (masked) units alone against the same rows of the target."""
        if rows is not None:
            return self.loss_module(pred, gather_rows(target, rows))
        weight = resample_mask(masks.mask, masks.grid, self.target.grid(inputs.shape[-2:]))
        return self.loss_module(pred, target, weight)

    @torch.no_grad()
    def reconstruct(self, inputs: torch.Tensor) -> List[dict]:
        """Per image: ``mask`` [L] bool, ``secondary`` [L] bool or None, ``pred``
        [L', D] and ``target`` [L', D] (in the target's space) for visualization."""
        masks = self.masker(inputs)
        pred = self.decoder(self.encoder(inputs, masks), masks)
        target = self.target(inputs)
        return [dict(mask=m, secondary=s, pred=p, target=t, grid=masks.grid,
                     unit_size=masks.unit_size)
                for m, s, p, t in zip(masks.mask, secondaries(masks), pred, target)]


def secondaries(masks: MaskSet) -> list:
    """Per sample the secondary mask ``[L]`` bool, or None without secondary masking."""
    if masks.secondary is None:
        return [None] * masks.mask.shape[0]
    return list(masks.secondary)
