"""Swin encoder for masked pretraining, with mmpretrain's SwinTransformer keys."""
import copy
from typing import Dict, List, Optional, Tuple

import torch
from mmpretrain.models.backbones import SwinTransformer
from mmpretrain.models.utils import to_2tuple
from torch import nn

from mmmim.registry import MODELS

from ..fast_blocks import use_fast_forward
from ..layer_depth import family_rule
from ..pos_embed import resize_abs_pos_embed
from ..structures import EncoderOutput, MaskSet
from .compaction import compact_map, compact_pos_embed, window_choice
from .pyramid import MaskedPyramid


@MODELS.register_module()
class MaskedSwin(MaskedPyramid, SwinTransformer):
    """mmpretrain's SwinTransformer that also encodes masked images, two ways.

    Parameters (checkpoint keys) are exactly mmpretrain's ``SwinTransformer`` ones
    plus ``secondary_token`` (compact mode, if enabled) or ``mask_token``
    (mask-token mode), so ``backbone.*`` keys load into mmpretrain / mmdet / mmseg
    Swin models (window size changes resize the relative position bias tables).

    ``forward(x)`` without masks is the plain backbone. ``forward(x, masks)`` (the
    modes, tokens and init shared with MaskedPVT: :mod:`.pyramid`):

    - ``masking='compact'`` (UM-MAE): ``masks`` must hold one visible unit per 2x2
      window. The visible units' pixels are packed into an image of half the side
      (``compact_map``) and the plain Swin runs on it: 4-px patch embedding (equal
      to compacting the full token map, the patches do not overlap units), then
      secondary-masked units' tokens replaced by ``secondary_token``. The relative
      position bias sees the compact grid's geometry (see docs/ummae.md).
    - ``masking='mask_token'`` (SimMIM): full grid, every token of a masked unit
      replaced by ``mask_token``; full compute.

    Returns :class:`EncoderOutput`: ``tokens`` the last stage normed by
    ``norm{last}`` ``[B, h*w, C]``; ``taps['stage{i}']`` each stage's block
    output before its patch merging (mmpretrain's ``out_after_downsample=False``
    features) and ``taps['merged{i}']`` after it (``out_after_downsample=True``;
    the last stage has no merging: its output), all un-normed. Widths:
    :attr:`tap_dims`.

    Windows are clamped per stage to the stage's token grid at ``img_size`` (see
    :meth:`clamped_windows`; mmpretrain's Swin refuses maps smaller than the window).

    Args:
        arch, img_size, window_size, drop_path_rate, stage_cfgs, **kwargs:
            SwinTransformer's (``drop_path_rate`` defaults to 0 for pretraining).
        masking: 'compact' or 'mask_token'.
        secondary_token: add the learnable token for secondary masking (compact).
        weight_init: 'simmim' (truncated normal 0.02, SimMIM's and Swin's) or
            'ummae' (the official UM-MAE pyramids' xavier scheme); see
            :mod:`mmmim.models.encoders.weight_init`.
    """

    def __init__(self, arch='tiny', img_size=224, window_size=7, drop_path_rate=0.,
                 masking: str = 'compact', secondary_token: bool = False,
                 stage_cfgs=None, weight_init: str = 'simmim', **kwargs) -> None:
        self.check_modes(masking, weight_init)
        if stage_cfgs is None or isinstance(stage_cfgs, dict):
            stage_cfgs = self.clamped_windows(arch, img_size, kwargs.get('patch_size', 4),
                                              window_size, masking, stage_cfgs or {})
        super().__init__(arch=arch, img_size=img_size, window_size=window_size,
                         drop_path_rate=drop_path_rate, stage_cfgs=stage_cfgs, **kwargs)
        use_fast_forward(self)
        if len(self.stages) - 1 not in self.out_indices:
            raise ValueError('the last stage must be in out_indices (its norm is used)')
        self.add_tokens(masking, weight_init, secondary_token, self.embed_dims)

    @classmethod
    def clamped_windows(cls, arch, img_size, patch_size: int, window_size: int,
                        masking: str, stage_cfg: dict) -> List[dict]:
        """Per-stage configs whose window never exceeds the stage's token grid at
        ``img_size`` (on the compact grid in compact mode), as the original Swin
        shrinks it: e.g. window 8 at 256 px compact gives windows 8/8/8/4."""
        depths = (cls.arch_zoo[arch.lower()] if isinstance(arch, str) else arch)['depths']
        side = min(to_2tuple(img_size)) // patch_size // (2 if masking == 'compact' else 1)
        cfgs = []
        for i in range(len(depths)):
            cfg = copy.deepcopy(stage_cfg)
            cfg.setdefault('window_size', max(1, min(window_size, -(-side // 2**i))))
            cfgs.append(cfg)
        return cfgs

    def get_layer_depth(self, param_name: str, prefix: str = '') -> Tuple[int, int]:
        """``(depth, number of depths)`` of a parameter for layer-wise lr decay: the
        Swin rule of :mod:`mmmim.models.layer_depth` (mmpretrain's signature)."""
        return family_rule(self)(param_name, prefix)

    @property
    def out_dims(self) -> int:
        """Width of the last stage's tokens."""
        return self.num_features[-1]

    @property
    def tap_dims(self) -> Dict[str, int]:
        """Width of every tap: ``stage{i}`` and ``merged{i}``."""
        dims = {}
        for i, stage in enumerate(self.stages):
            dims[f'stage{i}'], dims[f'merged{i}'] = stage.embed_dims, stage.out_channels
        return dims

    def ummae_init_layers(self) -> Tuple[nn.Conv2d, Dict[str, list]]:
        """The patch-embedding conv; the patch-merging Linears stand for the official
        2x2 stride-2 merging convs."""
        merging = [s.downsample.reduction for s in self.stages if s.downsample is not None]
        return self.patch_embed.projection, dict(merging_linears=merging)

    def forward(self, x: torch.Tensor, masks: Optional[MaskSet] = None):
        """x ``[B, 3, H, W]``. Without masks: mmpretrain's output tuple. With masks:
        :class:`EncoderOutput` (see the class docstring)."""
        if masks is None:
            return super().forward(x)
        tokens, hw = self.embed_masked(x, masks)
        return self.encode(tokens, hw)

    def embed_masked(self, x: torch.Tensor, masks: MaskSet):
        """Patch-embed the masked image -> tokens ``[B, h*w, C]`` and ``(h, w)``."""
        full_hw = (x.shape[-2] // self.patch_embed.projection.stride[0],
                   x.shape[-1] // self.patch_embed.projection.stride[1])
        if self.masking == 'compact':
            choice = window_choice(masks.visible, masks.grid)  # [B, gh/2, gw/2]
            tokens, hw = self.patch_embed(compact_map(x, choice))
        else:
            choice = None
            tokens, hw = self.patch_embed(x)
        tokens = self.replace_masked(tokens, hw, masks, choice)
        if self.use_abs_pos_embed:
            pos = resize_abs_pos_embed(self.absolute_pos_embed, full_hw, self.patch_resolution,
                                       self.num_extra_tokens, self.interpolate_mode)
            if choice is not None:
                pos_map = pos.transpose(1, 2).reshape(1, -1, *full_hw)
                pos = compact_pos_embed(pos_map, choice, hw)
            tokens = tokens + pos
        return self.drop_after_pos(tokens), hw

    def encode(self, tokens: torch.Tensor, hw: Tuple[int, int]) -> EncoderOutput:
        """Run the stages on ``[B, h*w, C]`` tokens; collect per-stage taps."""
        taps, tap_hw = {}, {}
        for i, stage in enumerate(self.stages):
            tokens, hw = stage(tokens, hw, do_downsample=False)
            taps[f'stage{i}'], tap_hw[f'stage{i}'] = tokens, hw
            if stage.downsample is not None:
                tokens, hw = stage.downsample(tokens, hw)
            taps[f'merged{i}'], tap_hw[f'merged{i}'] = tokens, hw
        tokens = getattr(self, f'norm{len(self.stages) - 1}')(tokens)
        return self.encoder_output(tokens, hw, taps, tap_hw)
