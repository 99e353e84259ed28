"""ViTDet's plain ViT backbone (Li et al. 2022) on mmpretrain VisionTransformer keys.

Keys are mmpretrain's (``patch_embed.projection``, ``cls_token``, ``pos_embed``,
``layers.i.{ln1, attn.qkv, attn.proj, ln2, ffn.layers.0.0, ffn.layers.1}``) plus
``layers.i.attn.rel_pos_h / rel_pos_w``, so an mmmim pretraining checkpoint (or an
mmpretrain classifier) loads through the ``vit->vitdet`` converter without a detour
through timm; only the relative position tables are new (zero-initialized).

The absolute position embedding keeps the pretraining grid (224 / 16 -> 14 x 14, as
the checkpoint) and is resized (bicubic) to the input's patch grid at every forward,
as ViTDet does: the loaded tensor is the checkpoint's, any input size works, and
the gradient trains the 14 x 14 table as in ViTDet. A checkpoint with another grid is
resized once at load to ``pretrain_img_size`` (noted in the load report), so a file
whose ``pos_embed`` was pre-resized to 64 x 64 still loads (ViTDet's own backbone
rejects it, docs/downstream_vitdet.md).
"""
from typing import Optional, Sequence, Tuple, Union

import torch
from mmcv.cnn import build_norm_layer
from mmcv.cnn.bricks.drop import build_dropout
from mmcv.cnn.bricks.transformer import FFN, PatchEmbed
from mmengine.model import BaseModule, ModuleList
from mmengine.model.weight_init import trunc_normal_
from mmpretrain.models.backbones import VisionTransformer
from torch import nn

from mmmim.models.layer_depth import vit_layer_depth
from mmmim.models.pos_embed import resize_abs_pos_embed
from mmmim.models.utils import run_block
from mmmim.registry import MODELS

from .attention import RelPosAttention, window_partition, window_unpartition

ARCH_KEYS = ('embed_dims', 'num_layers', 'num_heads', 'feedforward_channels')


class ViTDetBlock(BaseModule):
    """Pre-norm transformer block on a ``[B, H, W, C]`` map: window attention when
    ``window_size`` > 0 (else global), drop path on both branches.

    Args:
        rel_pos_size: side the relative position tables are built for (the window,
            or the global patch grid); None: no relative positions.
    """

    def __init__(self, embed_dims: int, num_heads: int, feedforward_channels: int,
                 window_size: int = 0, rel_pos_size: Optional[int] = None,
                 qkv_bias: bool = True, drop_rate: float = 0., attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0., norm_cfg: dict = dict(type='LN', eps=1e-6),
                 act_cfg: dict = dict(type='GELU'), init_cfg=None) -> None:
        super().__init__(init_cfg)
        self.window_size = window_size
        self.ln1 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.attn = RelPosAttention(embed_dims, num_heads, rel_pos_size, qkv_bias,
                                    attn_drop_rate)
        self.drop_path = build_dropout(dict(type='DropPath', drop_prob=drop_path_rate))
        self.ln2 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.ffn = FFN(embed_dims=embed_dims, feedforward_channels=feedforward_channels,
                       num_fcs=2, ffn_drop=drop_rate, act_cfg=act_cfg,
                       dropout_layer=dict(type='DropPath', drop_prob=drop_path_rate))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, H, W, C]`` -> ``[B, H, W, C]``."""
        y = self.ln1(x)
        if self.window_size:
            hw = x.shape[1:3]
            tiles, padded_hw = window_partition(y, self.window_size)
            y = window_unpartition(self.attn(tiles), self.window_size, padded_hw, hw)
        else:
            y = self.attn(y)
        x = x + self.drop_path(y)
        return self.ffn(self.ln2(x), identity=x)


def arch_settings(arch: Union[str, dict]) -> dict:
    """mmpretrain ViT arch ('b', 'base', 'l', ...) or a dict with :data:`ARCH_KEYS`."""
    if isinstance(arch, str):
        if arch.lower() not in VisionTransformer.arch_zoo:
            raise ValueError(f'unknown ViT arch {arch!r}; known: '
                             f'{sorted(VisionTransformer.arch_zoo)}')
        return dict(VisionTransformer.arch_zoo[arch.lower()])
    missing = [k for k in ARCH_KEYS if k not in arch]
    if missing:
        raise ValueError(f'ViT arch dict lacks {missing} (needs {ARCH_KEYS})')
    return dict(arch)


@MODELS.register_module()
class ViTDetBackbone(BaseModule):
    """Plain ViT for detection (ViTDet): window attention in most blocks, global
    attention in a few, decomposed relative positions, one stride-16 output map.

    Args:
        arch: mmpretrain ViT arch name or dict (:data:`ARCH_KEYS`).
        img_size: training input side; sets the global blocks' relative position
            tables (``2 * img_size / patch_size - 1``, 127 at 1024). Other sizes work
            (tables are resampled).
        pretrain_img_size: input side of the pretraining; sets the stored position
            embedding grid (14 x 14 at 224), as in the checkpoint.
        patch_size: patch side in pixels.
        window_size: window side (in patches) of the window blocks.
        global_indices: 0-based indices of the global-attention blocks (ViTDet ViT-B:
            blocks 3, 6, 9, 12); all others use windows.
        use_rel_pos: decomposed relative positions in every block.
        drop_path_rate: stochastic depth, rising linearly to this over the blocks.
        with_cp: activation checkpointing of every block while training.

    Forward: ``[B, 3, H, W]`` -> a 1-tuple holding ``[B, C, H / p, W / p]``.
    """

    converter_target = 'vitdet'   # MIMPretrained picks the 'vit->vitdet' converter
    num_extra_tokens = 1           # the class token slot of pos_embed

    def __init__(self, arch: Union[str, dict] = 'b', img_size: int = 1024,
                 pretrain_img_size: int = 224, patch_size: int = 16, in_channels: int = 3,
                 window_size: int = 14, global_indices: Sequence[int] = (2, 5, 8, 11),
                 use_rel_pos: bool = True, qkv_bias: bool = True, drop_rate: float = 0.,
                 attn_drop_rate: float = 0., drop_path_rate: float = 0.1,
                 norm_cfg: dict = dict(type='LN', eps=1e-6), with_cp: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        arch = arch_settings(arch)
        self.embed_dims, self.num_layers = arch['embed_dims'], arch['num_layers']
        self.global_indices = tuple(i % self.num_layers for i in global_indices)
        self.with_cp = with_cp
        self.patch_embed = PatchEmbed(in_channels=in_channels, input_size=pretrain_img_size,
                                      embed_dims=self.embed_dims, conv_type='Conv2d',
                                      kernel_size=patch_size, stride=patch_size, bias=True)
        self.patch_resolution = tuple(self.patch_embed.init_out_size)  # pretraining grid
        # kept for the checkpoint layout (mmpretrain keys); ViTDet uses no class token
        self.cls_token = nn.Parameter(torch.zeros(1, 1, self.embed_dims), requires_grad=False)
        self.pos_embed = nn.Parameter(torch.zeros(
            1, self.num_extra_tokens + self.patch_resolution[0] * self.patch_resolution[1],
            self.embed_dims))
        self.drop_after_pos = nn.Dropout(drop_rate)
        drop_paths = torch.linspace(0, drop_path_rate, self.num_layers).tolist()
        self.layers = ModuleList()
        for i, drop_path in enumerate(drop_paths):
            side = img_size // patch_size if i in self.global_indices else window_size
            self.layers.append(ViTDetBlock(
                self.embed_dims, arch['num_heads'], arch['feedforward_channels'],
                window_size=0 if i in self.global_indices else window_size,
                rel_pos_size=side if use_rel_pos else None, qkv_bias=qkv_bias,
                drop_rate=drop_rate, attn_drop_rate=attn_drop_rate,
                drop_path_rate=drop_path, norm_cfg=norm_cfg))

    def init_weights(self) -> None:
        """ViTDet's random init (truncated normal 0.02 for linears and positions, zero
        relative positions) unless already initialized; then the init_cfg (a
        pretrained checkpoint overwrites all but the relative position tables)."""
        if not self._is_init:
            trunc_normal_(self.pos_embed, std=.02)
            for m in self.layers.modules():
                if isinstance(m, nn.Linear):
                    trunc_normal_(m.weight, std=.02)
                    if m.bias is not None:
                        nn.init.zeros_(m.bias)
        super().init_weights()

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor]:
        """``[B, 3, H, W]`` -> ``([B, C, H / p, W / p],)``."""
        tokens, hw = self.patch_embed(x)                              # [B, h*w, C]
        pos = resize_abs_pos_embed(self.pos_embed, hw, self.patch_resolution,
                                   self.num_extra_tokens)[:, self.num_extra_tokens:]
        x = self.drop_after_pos(tokens + pos).view(-1, *hw, self.embed_dims)  # [B, h, w, C]
        for layer in self.layers:
            x = run_block(layer, x, with_cp=self.with_cp)
        return (x.permute(0, 3, 1, 2).contiguous(),)

    def get_layer_depth(self, param_name: str, prefix: str = '') -> Tuple[int, int]:
        """(depth, number of depths) for layer-wise lr decay: the ViT rule of
        :mod:`mmmim.models.layer_depth` (stem 0, ``layers.i`` i + 1, anything else,
        and anything outside ``prefix`` (neck, heads), ``num_layers + 1``)."""
        return vit_layer_depth(param_name, prefix, num_blocks=self.num_layers)
