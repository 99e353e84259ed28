"""LocalMIM's flow: small decoders tapped at several encoder levels, one target scale each."""
import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import torch
from mmengine.model import ModuleList
from torch import nn

from mmmim.registry import MODELS

from ..structures import EncoderOutput, MaskSet
from ..utils import resample_mask
from .masked_image_model import MaskedImageModel, ModuleOrCfg, build_slot, secondaries

OUTPUT_TAP = 'out'  # the encoder's final (normed) tokens, ``EncoderOutput.tokens``


@dataclass
class Level:
    """One level: decoder ``i`` reads ``tap`` and predicts target scale ``target``."""
    tap: str
    target: str
    weight: float
    log_name: str


def tap_successor(encoder: nn.Module, tap: str) -> Optional[nn.Module]:
    """The encoder module that takes the main stream right after ``tap``
    (``'block{i}'`` -> ``layers[i+1]``; ``'merged{i}'`` -> ``stages[i+1]``;
    ``'stage{i}'`` -> stage i's patch merging), None at the top."""
    found = re.fullmatch(r'(block|merged|stage)(\d+)', tap)
    if found is None:
        return None
    kind, i = found.group(1), int(found.group(2))
    if not hasattr(encoder, 'layers' if kind == 'block' else 'stages'):
        raise NotImplementedError(f'isolate_levels: no rule for what follows tap {tap!r} '
                                  f'in {type(encoder).__name__}')
    if kind == 'stage' and encoder.stages[i].downsample is not None:
        return encoder.stages[i].downsample
    following = encoder.layers if kind == 'block' else encoder.stages
    return following[i + 1] if i + 1 < len(following) else None


def detach_inputs(module: nn.Module, args: tuple) -> tuple:
    """Forward pre-hook: the module's tensor inputs, cut from the graph below."""
    return tuple(a.detach() if torch.is_tensor(a) else a for a in args)


def level_decoder_cfg(cfg: ModuleOrCfg, encoder: nn.Module, target: nn.Module,
                      tap: str, scale: str) -> ModuleOrCfg:
    """Fill what a level's decoder config leaves out: the tap's width, whether the
    tap still needs its norm and the target's width at ``scale``."""
    if not isinstance(cfg, dict):
        return cfg
    derived = dict(
        in_dims=getattr(encoder, 'tap_dims', {}).get(tap, getattr(encoder, 'out_dims', None)),
        in_norm=tap != OUTPUT_TAP,
        out_channels=target.dims(scale) if hasattr(target, 'dims') else target.out_dims)
    return {**{k: v for k, v in derived.items() if v is not None}, **cfg}


def with_block_taps(encoder: ModuleOrCfg, taps: Sequence[str]) -> ModuleOrCfg:
    """An encoder config without ``taps`` gets the block indices the levels read."""
    if not isinstance(encoder, dict) or 'taps' in encoder:
        return encoder
    blocks = [int(t[len('block'):]) for t in taps if re.fullmatch(r'block\d+', t)]
    return {**encoder, 'taps': tuple(blocks)} if blocks else encoder


def level_scales(levels: List[dict], names: Sequence[str]) -> List[str]:
    """Each level's target scale: its ``target`` key, else the target's scale of the
    same index (``names[i]`` for level ``i``), so swapping the target (HOG for
    pixels) needs no restated levels."""
    if all('target' in level for level in levels):
        return [level['target'] for level in levels]
    if len(names) != len(levels):
        raise ValueError(f'{len(levels)} levels but the target has scales {tuple(names)}: '
                         'give each level a `target` scale')
    return [level.get('target', name) for level, name in zip(levels, names)]


@MODELS.register_module()
class MultiLevelMaskedImageModel(MaskedImageModel):
    """LocalMIM: one decoder per tapped encoder level, each on its own target scale::

        masks   = masker(images)                    # bool [B, L], True = masked
        latent  = encoder(images, masks)            # + named taps
        targets = target.multi_scale(images)        # {scale: [B, L_s, D_s]}, once
        loss_s  = weight * loss(decoder_i(latent.taps[tap_i]), targets[s],
                                mask resampled to scale s)

    Returns ``{'loss_<scale>': ...}`` per level (weighted; ``loss_<scale>_<tap>`` if
    two levels share a scale); mmengine sums them into the logged ``loss``.

    Args:
        masker, encoder, target, loss, data_preprocessor: as
            :class:`MaskedImageModel`; ``target`` has a multi-scale interface
            (``names``, ``multi_scale``, ``grid(image_hw, name)``).
        levels: ``[dict(tap='block1', decoder=dict(...), target='cell4',
            weight=1.0), ...]``; ``tap='out'`` is the encoder's final normed output;
            without ``target``, level ``i`` reads the target's scale ``names[i]``.
        isolate_levels: detach the main stream after every tap, so each level's
            encoder part is trained only by its own decoder.
    """

    def __init__(self, masker: ModuleOrCfg, encoder: ModuleOrCfg, levels: List[dict],
                 target: ModuleOrCfg, loss: ModuleOrCfg = dict(type='MaskedReconstructionLoss'),
                 isolate_levels: bool = False, data_preprocessor: Optional[ModuleOrCfg] = None,
                 init_cfg=None) -> None:
        taps = [level['tap'] for level in levels]
        super().__init__(masker, with_block_taps(encoder, taps), None, target, loss,
                         data_preprocessor, init_cfg)
        scales = level_scales(levels, self.target.names)
        unknown = set(scales) - set(self.target.names)
        if unknown:
            raise KeyError(f'levels ask for scales {sorted(unknown)}; the target has '
                           f'{self.target.names}')
        self.levels = [Level(tap, scale, float(level.get('weight', 1.0)),
                             f'loss_{scale}' if scales.count(scale) == 1
                             else f'loss_{scale}_{tap}')
                       for level, tap, scale in zip(levels, taps, scales)]
        self.decoders = ModuleList(  # mmengine's: init_weights reaches each decoder
            build_slot(level_decoder_cfg(cfg['decoder'], self.encoder, self.target,
                                         lvl.tap, lvl.target))
            for cfg, lvl in zip(levels, self.levels))
        self.isolate_levels = isolate_levels
        for level in self.levels if isolate_levels else ():  # fail at build time
            tap_successor(self.encoder, level.tap)

    def loss(self, inputs: torch.Tensor, data_samples: Optional[list] = None
             ) -> Dict[str, torch.Tensor]:
        masks = self.masker(inputs)
        latent = self.encode(inputs, masks)
        targets = self.target.multi_scale(inputs)
        return {level.log_name: level.weight * self.level_loss(
                    pred, targets[level.target], masks, inputs, level.target)
                for level, pred in self.level_predictions(latent, masks)}

    def level_predictions(self, latent: EncoderOutput, masks: MaskSet
                          ) -> List[Tuple[Level, torch.Tensor]]:
        """Each level with its decoder's predictions ``[B, L_s, D_s]`` from its tap."""
        return [(level, decoder(self.level_input(latent, level.tap), masks))
                for level, decoder in zip(self.levels, self.decoders)]

    def level_loss(self, pred: torch.Tensor, target: torch.Tensor, masks: MaskSet,
                   inputs: torch.Tensor, scale: str) -> torch.Tensor:
        """Masked-cell loss at ``scale``: the mask nearest-upsampled to finer cells,
        averaged (fractional weights) over coarser ones."""
        weight = resample_mask(masks.mask, masks.grid,
                               self.target.grid(inputs.shape[-2:], scale))
        return self.loss_module(pred, target, weight)

    @staticmethod
    def level_input(latent: EncoderOutput, tap: str) -> EncoderOutput:
        """The tokens a level's decoder reads: a named tap, or the final output."""
        if tap == OUTPUT_TAP:
            return latent
        if tap not in latent.taps:
            raise KeyError(f'the encoder gave taps {sorted(latent.taps)}, not {tap!r}')
        return EncoderOutput(tokens=latent.taps[tap], hw=latent.tap_hw[tap],
                             num_extra_tokens=latent.num_extra_tokens, layout=latent.layout)

    def encode(self, inputs: torch.Tensor, masks: MaskSet) -> EncoderOutput:
        """The encoder's output; with ``isolate_levels``, the main stream detached
        after each tap (the hooks stay out of the way otherwise, and out of
        torch.compile's graph)."""
        if not self.isolate_levels:
            return self.encoder(inputs, masks)
        with self.isolated_levels():
            return self.encoder(inputs, masks)

    @contextmanager
    def isolated_levels(self) -> Iterator[None]:
        """With ``isolate_levels``, detach the encoder's main stream after each tap
        (forward pre-hooks on the modules that continue it) while inside."""
        successors = [tap_successor(self.encoder, level.tap) for level in self.levels]
        handles = [m.register_forward_pre_hook(detach_inputs)
                   for m in successors if self.isolate_levels and m is not None]
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()

    @torch.no_grad()
    def reconstruct(self, inputs: torch.Tensor) -> List[dict]:
        """Per image: ``mask`` [L], ``secondary`` [L] or None and, per level's log
        name, ``(pred, target)``."""
        masks = self.masker(inputs)
        latent = self.encoder(inputs, masks)
        targets = self.target.multi_scale(inputs)
        per_level = {level.log_name: (pred, targets[level.target])
                     for level, pred in self.level_predictions(latent, masks)}
        return [dict(mask=m, secondary=s, grid=masks.grid, unit_size=masks.unit_size,
                     levels={k: (p[i], t[i]) for k, (p, t) in per_level.items()})
                for i, (m, s) in enumerate(zip(masks.mask, secondaries(masks)))]
