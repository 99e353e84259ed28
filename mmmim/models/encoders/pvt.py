"""PVT (v1) encoder for masked pretraining, with mmdet's PyramidVisionTransformer keys."""
from functools import partial
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from mmdet.models.backbones.pvt import (
    MixFFN,
    PVTEncoderLayer,
    PyramidVisionTransformer,
    SpatialReductionAttention,
)
from mmdet.models.layers import nlc_to_nchw
from torch import nn

from mmmim.registry import MODELS

from ..fast_blocks import conv1x1_as_linear, conv1x1_on_map, conv_on_tokens
from ..fast_pvt_blocks import use_fast_forward
from ..layer_depth import family_rule
from ..pos_embed import sincos_pos_embed
from ..structures import MaskSet
from ..utils import run_block
from .compaction import compact_map, compact_pos_embed, window_choice
from .pyramid import MaskedPyramid


class PooledReduction(nn.Conv2d):
    """PVT's spatial reduction as average pooling by ``pool`` then a 1x1 conv (the
    UM-MAE paper's form): its weights do not depend on the ratio, so the same
    weights serve ratio r on the full grid and r/2 on the compact grid. ``pool`` is
    the full-grid ratio; a call may give another (``pool=``: the compact grid's).
    Keys ``sr.weight`` / ``sr.bias`` as mmdet's strided conv; :func:`pooled_sr_to_conv`
    turns them into mmdet's kernel exactly. The 1x1 conv runs as a Linear over the
    channels (:func:`conv1x1_on_map`): x ``[B, C, H, W]`` -> channels-last
    ``[B, C, H / pool, W / pool]``."""

    def __init__(self, dims: int, pool: int) -> None:
        super().__init__(dims, dims, kernel_size=1)
        self.pool = pool

    def forward(self, x: torch.Tensor, pool: Optional[int] = None) -> torch.Tensor:
        pool = self.pool if pool is None else pool
        return conv1x1_on_map(F.avg_pool2d(x, pool) if pool > 1 else x, self)

    def reduce_tokens(self, x: torch.Tensor, hw_shape,
                      pool: Optional[int] = None) -> torch.Tensor:
        """:meth:`forward` on tokens: x ``[B, H * W, C]`` (row-major ``H x W``) ->
        ``[B, H * W / pool**2, C]``. The pooling is a mean over each window in the
        tokens' own layout: no copy, and its backward keeps no input (``avg_pool2d``
        keeps its whole input, the block's normed tokens, for the shape alone)."""
        (h, w), pool = hw_shape, self.pool if pool is None else pool
        if h % pool or w % pool:
            return conv_on_tokens(partial(self, pool=pool), x, hw_shape)
        if pool > 1:
            x = x.unflatten(1, (h // pool, pool, w // pool, pool)).mean((2, 4)).flatten(1, 2)
        return conv1x1_as_linear(x, self)


class PoolingPVTLayer(PVTEncoderLayer):
    """mmdet's PVT block (same parameters) whose key/value pooling a call may set."""

    def forward(self, x: torch.Tensor, hw_shape, pool: Optional[int] = None) -> torch.Tensor:
        """x ``[B, L, C]`` -> ``[B, L, C]``; ``pool``: the spatial reduction's pooling
        in this call (None: its own, the full-grid ratio)."""
        extra = {} if pool is None else dict(pool=pool)
        x = self.attn(self.norm1(x), hw_shape, identity=x, **extra)
        return self.ffn(self.norm2(x), hw_shape, identity=x)


@MODELS.register_module()
class MaskedPVT(MaskedPyramid, PyramidVisionTransformer):
    """mmdet's PyramidVisionTransformer (v1) that also encodes masked images.

    Keys are mmdet's (``layers.i.0`` patch embed, ``layers.i.1.0.pos_embed``,
    ``layers.i.1.j`` blocks) plus ``norm`` (the original PVT's final norm, which
    mmdet's converter drops) and ``secondary_token`` / ``mask_token``. One shape
    differs: each ``attn.sr.weight`` is a 1x1 conv after average pooling
    (:class:`PooledReduction`), ``[C, C, 1, 1]``; :func:`pooled_sr_to_conv` gives
    mmdet's ``[C, C, r, r]`` kernel with identical outputs.

    ``sr_ratios`` are the full-grid (fine-tuning) ratios, 8/4/2/1; on the compact
    grid each halves (4/2/1/1), so stages 1-3 attend to the same key/value grid.
    A stage whose full-grid ratio is 2 keeps its 1x1 conv + LN at ratio 1 in
    compact mode, so its weights exist for fine-tuning. The compact ratios are
    passed to each block per call (:class:`PoolingPVTLayer`); the modules keep the
    full-grid ones.

    Masking modes, tokens and init: shared with MaskedSwin (:mod:`.pyramid`).

    Positions: each stage's position embedding (fixed 2D sin-cos by default) is
    made for the full grid of the input and gathered at the visible units on the
    compact grid (averaged where a compact token spans several units).

    Args:
        pretrain_img_size, sr_ratios, drop_path_rate, **kwargs: mmdet's (defaults
            are PVT-S: dims 64/128/320/512, depths 3/4/6/3, heads 1/2/5/8).
        masking: 'compact' (UM-MAE) or 'mask_token' (SimMIM).
        secondary_token: learnable token for secondary masking (compact mode).
        fixed_pos_embed: frozen sin-cos position embeddings.
        final_norm: LayerNorm on the last stage's tokens.
        out_final_norm: the plain (no-mask) forward applies ``norm`` to the last
            stage's map, as the original PVT does before classification. False
            (default) gives mmdet's maps exactly (mmdet builds no final norm). Needs
            ``final_norm`` and the last stage in ``out_indices``.
        with_cp: activation checkpointing of every block in the masked forward.
        weight_init: 'simmim' (truncated-normal 0.02 Linears over mmdet's init) or
            'ummae' (the official UM-MAE pyramids' xavier scheme, mmdet's 1x1-conv
            FFN treated as the official Linears); see
            :mod:`mmmim.models.encoders.weight_init`.

    Without masks the forward returns a tuple of the ``out_indices`` stage maps
    ``[B, C_i, H_i, W_i]`` (mmdet's necks take it; mmpretrain's necks need a tuple).
    """

    def __init__(self, pretrain_img_size=224, sr_ratios=(8, 4, 2, 1), drop_path_rate=0.,
                 masking: str = 'compact', secondary_token: bool = False,
                 fixed_pos_embed: bool = True, final_norm: bool = True,
                 out_final_norm: bool = False, with_cp: bool = False,
                 weight_init: str = 'simmim', **kwargs) -> None:
        self.check_modes(masking, weight_init)
        kwargs.setdefault('convert_weights', False)
        super().__init__(pretrain_img_size=pretrain_img_size, sr_ratios=list(sr_ratios),
                         drop_path_rate=drop_path_rate, **kwargs)
        for module in self.modules():
            if isinstance(module, SpatialReductionAttention) and module.sr_ratio > 1:
                module.sr = PooledReduction(module.embed_dims, module.sr_ratio)
            elif type(module) is PVTEncoderLayer:
                module.__class__ = PoolingPVTLayer
        use_fast_forward(self)
        if out_final_norm and not (final_norm and self.num_stages - 1 in self.out_indices):
            raise ValueError('out_final_norm needs final_norm=True and the last stage '
                             f'({self.num_stages - 1}) in out_indices {self.out_indices}')
        self.out_final_norm = out_final_norm
        self.with_cp = with_cp
        self.fixed_pos_embed = fixed_pos_embed
        dims = [self.embed_dims * h for h in self.num_heads]
        self.norm = nn.LayerNorm(dims[-1], eps=1e-6) if final_norm else nn.Identity()
        self.add_tokens(masking, weight_init, secondary_token, dims[0])
        for pos in self.position_embeddings():
            pos.pos_embed.requires_grad = not fixed_pos_embed
            pos.pos_shape = tuple(int(s) for s in pos.pos_shape)  # mmdet's numpy ints

    def get_layer_depth(self, param_name: str, prefix: str = '') -> Tuple[int, int]:
        """``(depth, number of depths)`` of a parameter for layer-wise lr decay: the
        PVT rule of :mod:`mmmim.models.layer_depth` (mmpretrain's signature)."""
        return family_rule(self)(param_name, prefix)

    @property
    def out_dims(self) -> int:
        """Width of the last stage's tokens."""
        return self.embed_dims * self.num_heads[-1]

    @property
    def tap_dims(self) -> Dict[str, int]:
        """Width of every tap ``stage{i}`` (PVT downsamples at the start of the
        next stage, in its patch embedding, so there are no ``merged`` taps)."""
        return {f'stage{i}': self.embed_dims * h for i, h in enumerate(self.num_heads)}

    def position_embeddings(self) -> list:
        """The per-stage AbsolutePositionEmbedding modules (empty without)."""
        return [layer[1][0] for layer in self.layers if hasattr(layer[1][0], 'pos_embed')]

    def ummae_init_layers(self) -> Tuple[nn.Conv2d, Dict[str, list]]:
        """The stage-1 patch-embedding conv; the FFNs' 1x1 convs stand for the
        official Linears."""
        ffn_convs = [conv for m in self.modules() if isinstance(m, MixFFN)
                     for conv in m.layers if isinstance(conv, nn.Conv2d)
                     and conv.kernel_size == (1, 1)]
        return self.layers[0][0].projection, dict(linear_convs=ffn_convs)

    def init_weights(self) -> None:
        """The pyramid init (:meth:`MaskedPyramid.init_weights`), then the fixed
        sin-cos position embeddings."""
        super().init_weights()
        if self.fixed_pos_embed and not self.loads_pretrained:
            for pos in self.position_embeddings():
                pos.pos_embed.data.copy_(sincos_pos_embed(tuple(pos.pos_shape), pos.pos_dim))

    def forward(self, x: torch.Tensor, masks: Optional[MaskSet] = None):
        """Without masks: a tuple of the ``out_indices`` stage maps (full-grid SR
        ratios; the last one normed by ``norm`` when ``out_final_norm``). With
        masks: :class:`EncoderOutput`, ``taps['stage{i}']`` each stage's output."""
        if masks is None:
            outs = list(super().forward(x))
            if self.out_final_norm:                 # the last stage is the last output
                last = outs[-1]
                tokens = self.norm(last.flatten(2).transpose(1, 2))
                outs[-1] = nlc_to_nchw(tokens, last.shape[-2:])
            return tuple(outs)
        compact = self.masking == 'compact'
        choice = window_choice(masks.visible, masks.grid) if compact else None
        full_hw = x.shape[-2:]
        taps, tap_hw = {}, {}
        for i, (patch_embed, blocks, norm) in enumerate(self.layers):
            if i == 0:
                x, hw = patch_embed(compact_map(x, choice) if compact else x)
                x = self.replace_masked(x, hw, masks, choice)
            else:
                x, hw = patch_embed(nlc_to_nchw(x, hw))
            full_hw = (full_hw[0] // self.strides[i], full_hw[1] // self.strides[i])
            start = 0
            if hasattr(blocks[0], 'pos_embed'):
                x, start = blocks[0].drop(x + self.positions(blocks[0], full_hw, hw, choice)), 1
            for block in blocks[start:]:
                pool = max(1, block.attn.sr_ratio // 2) if compact else None
                x = run_block(block, x, hw, pool, with_cp=self.with_cp)
            x = norm(x)
            taps[f'stage{i}'], tap_hw[f'stage{i}'] = x, hw
        return self.encoder_output(self.norm(x), hw, taps, tap_hw)

    @staticmethod
    def positions(pos_module, full_hw, hw, choice) -> torch.Tensor:
        """The stage's embedding resized to the full grid (unless built for it),
        compacted if needed."""
        pos = pos_module.pos_embed                                      # [1, L, C]
        if tuple(full_hw) != tuple(pos_module.pos_shape):
            pos = pos_module.resize_pos_embed(pos, full_hw)
        if choice is None:
            return pos
        return compact_pos_embed(pos.transpose(1, 2).reshape(1, -1, *full_hw), choice, hw)
