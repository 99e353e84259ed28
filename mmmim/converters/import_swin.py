"""Importers of released Swin pretraining checkpoints into mmmim models.

**Official SimMIM Swin** (microsoft/SimMIM ``models/simmim.py`` +
``models/swin_transformer.py``; ``{'model': ...}``), C_s = width of stage s,
r = encoder stride (32)::

    encoder.patch_embed.{proj [C_0, 3, 4, 4], norm}.*, encoder.mask_token [1, 1, C_0],
    [encoder.absolute_pos_embed]
    encoder.layers.s.blocks.b.{norm1, attn.qkv [3C_s, C_s], attn.proj,
        attn.relative_position_bias_table [(2W-1)^2, heads], attn.relative_position_index,
        norm2, mlp.fc1, mlp.fc2}.*, [encoder.layers.s.blocks.b.attn_mask] (shifted blocks)
    encoder.layers.s.downsample.{norm [4C_s], reduction [2C_s, 4C_s]}   end of stage s
    encoder.norm.*                                                      last stage
    decoder.0.{weight [r*r*3, C_last, 1, 1], bias [r*r*3]}  1x1 conv, then PixelShuffle(r)

-> ``encoder.*`` (mmpretrain Swin keys: ``stages.s.blocks.b.{norm1, attn.w_msa.{qkv,
proj, relative_position_bias_table}, norm2, ffn.layers.0.0, ffn.layers.1}``,
``stages.s.downsample.{norm, reduction}``, ``norm{last}``) and ``decoder.predictor``
(:class:`SimMIMDecoder`, a Linear giving each token's (r, r, 3) pixels row-major, pixel
then channel: the conv's output channels, ordered (3, r, r) by PixelShuffle, are
permuted). Patch merging concatenates the 2x2 neighbours as offsets (0,0) (1,0) (0,1)
(1,1); mmpretrain unfolds channel-major: the merging norm and reduction inputs are
permuted (the inverse of :func:`.swin.merging_permutation`). Index buffers and
attention masks are rebuilt by our Swin.

**mmpretrain / mmselfsup SimMIM** (``SimMIMSwinTransformer`` backbone = mmpretrain
Swin keys + ``mask_token``; ``SimMIMLinearDecoder`` neck ``neck.decoder.0`` = the same
1x1 conv; loss-only head).

**Official LocalMIM Swin** (huawei-noah/Efficient-Computing
``Self-supervised/LocalMIM/Swin/models_mim.py``, GreenMIM's sparse Swin;
``{'model': ...}``)::

    encoder.patch_embed.{proj, norm}.*, encoder.layers.s.blocks.b.* (as SimMIM's,
        relative_position_index kept, no attn_mask), encoder.layers.s.downsample.*
    encoder.norm.k.*         level k's norm of stage k's output after patch merging
    decoder.k.{embed, mask_token, pos_embed [1, L_k, D_k] (sin-cos), blocks.j.* (timm
               Block), norm, pred (Linear)}
    hog_enc.k.conv.*         HOG target's fixed Sobel filters

Its patch merging concatenates the 2x2 neighbours in row-major offset order (0,0)
(0,1) (1,0) (1,1) (tokens grouped by window): permuted to mmpretrain's order too.
``encoder.norm.k`` is ``decoders.k.in_norm`` for the taps ``merged0..2`` and the
encoder's ``norm3`` for the last level (``out``); ``decoder.k`` is
``decoders.k.mae`` with ``pred`` as its ``predictor``. The official encoder computes
on the visible tokens only and has no mask token: our mask-token encoder's
``mask_token`` keeps its initialization (listed as expected missing).

**Official UM-MAE Swin** (implus/UM-MAE ``models_mae_swin.py``): not importable
exactly, the converter stops and says why (:func:`ummae_swin_refusal`).
"""
import re
from typing import List, Tuple

import torch
from torch import nn

from .common import StateDict, register_converter, source_tensors
from .import_vit import MMPRETRAIN_EXTRAS, check_levels, localmim_decoder_rules
from .imports import (
    Rule,
    eps_note,
    import_by_rules,
    renamed,
)
from .report import ConversionError, LoadReport
from .swin import merging_permutation

SWIN_BLOCK = (('norm1', 'norm1'), ('attn.qkv', 'attn.w_msa.qkv'),
              ('attn.proj', 'attn.w_msa.proj'), ('norm2', 'norm2'),
              ('mlp.fc1', 'ffn.layers.0.0'), ('mlp.fc2', 'ffn.layers.1'))
REBUILT = 'index buffer / attention mask (rebuilt by our Swin)'


def concat_to_mm(order: str):
    """Transform of a patch-merging tensor whose 4C inputs are concatenated by
    offset (``order`` 'colmajor': (0,0) (1,0) (0,1) (1,1), the official Swin;
    'rowmajor': (0,0) (0,1) (1,0) (1,1), GreenMIM) to mmpretrain's channel-major
    unfold order; the last dimension of ``value`` is the 4C inputs."""
    def transform(value: torch.Tensor) -> torch.Tensor:
        channels = value.shape[-1] // 4
        if order == 'colmajor':
            index = torch.argsort(merging_permutation(channels))
        else:  # mm position c*4 + o holds GreenMIM's o*C + c
            index = torch.arange(4 * channels).reshape(4, channels).T.reshape(-1)
        return value[..., index]
    return transform


def shuffle_conv_to_linear(value: torch.Tensor, channels: int = 3) -> torch.Tensor:
    """A 1x1 conv before PixelShuffle(r), weight ``[C*r*r, D, 1, 1]`` (or its bias),
    -> the Linear giving each token's pixels as (r, r, C) rows: ``[r*r*C, D]``."""
    r = int(round((value.shape[0] / channels) ** 0.5))
    index = torch.arange(value.shape[0]).reshape(channels, r, r).permute(1, 2, 0).reshape(-1)
    return value.reshape(value.shape[0], -1)[index] if value.dim() > 1 else value[index]


def swin_encoder_rules(src: str, merge_order: str) -> List[Rule]:
    """Official-style Swin encoder keys under ``src`` -> ``encoder.*`` (no final norm)."""
    block = rf'{src}layers\.(\d+)\.blocks\.(\d+)\.'
    merge = rf'{src}layers\.(\d+)\.downsample\.'
    return [Rule(rf'{src}patch_embed\.proj\.(weight|bias)', r'encoder.patch_embed.projection.\1'),
            Rule(rf'{src}patch_embed\.norm\.(weight|bias)', r'encoder.patch_embed.norm.\1'),
            Rule(rf'{src}absolute_pos_embed', 'encoder.absolute_pos_embed'),
            *renamed(block, r'encoder.stages.\1.blocks.\2.', SWIN_BLOCK),
            Rule(block + r'attn\.relative_position_bias_table',
                 r'encoder.stages.\1.blocks.\2.attn.w_msa.relative_position_bias_table'),
            Rule(block + r'(attn\.relative_position_index|attn_mask)', reason=REBUILT),
            Rule(merge + r'(norm\.weight|norm\.bias|reduction\.weight)',
                 r'encoder.stages.\1.downsample.\2', transform=concat_to_mm(merge_order))]


def simmim_decoder_rules(src: str) -> List[Rule]:
    return [Rule(rf'{src}decoder\.0\.(weight|bias)', r'decoder.predictor.\1',
                 transform=shuffle_conv_to_linear)]


def last_stage(state: StateDict, pattern: str) -> int:
    """Highest stage index in the keys matching ``pattern`` (group 1)."""
    stages = [int(m.group(1)) for k in state for m in [re.match(pattern, k)] if m]
    if not stages:
        raise ConversionError(f'no Swin stage found (no key matches {pattern}): the '
                              'encoder is missing from this checkpoint')
    return max(stages)


@register_converter('simmim-swin-official', 'mmmim')
def simmim_swin_to_mmmim(checkpoint: dict, model: nn.Module) -> Tuple[StateDict, LoadReport]:
    """Official SimMIM Swin -> an mmmim SimMIM Swin model (mask-token encoder)."""
    state, _ = source_tensors(checkpoint)
    last = last_stage(state, r'encoder\.layers\.(\d+)\.')
    rules = [*swin_encoder_rules(r'encoder\.', 'colmajor'),
             Rule(r'encoder\.mask_token', 'encoder.mask_token'),
             Rule(r'encoder\.norm\.(weight|bias)', rf'encoder.norm{last}.\1'),
             *simmim_decoder_rules('')]
    return import_by_rules(checkpoint, model, 'simmim-swin-official->mmmim', rules)


@register_converter('simmim-mmpretrain', 'mmmim')
def simmim_mmpretrain_to_mmmim(checkpoint: dict, model: nn.Module
                               ) -> Tuple[StateDict, LoadReport]:
    """mmpretrain / mmselfsup SimMIM Swin -> an mmmim SimMIM Swin model."""
    rules = [Rule(r'backbone\.(.+)', r'encoder.\1'), *simmim_decoder_rules(r'neck\.'),
             *MMPRETRAIN_EXTRAS]
    return import_by_rules(checkpoint, model, 'simmim-mmpretrain->mmmim', rules)


@register_converter('localmim-swin-official', 'mmmim', expected_missing=(r'^encoder\.mask_token$',))
def localmim_swin_to_mmmim(checkpoint: dict, model: nn.Module) -> Tuple[StateDict, LoadReport]:
    """Official LocalMIM Swin (GreenMIM encoder) -> an mmmim LocalMIM Swin model."""
    state, _ = source_tensors(checkpoint)
    last = last_stage(state, r'encoder\.layers\.(\d+)\.')
    taps = [f'merged{s}' for s in range(last)] + ['out']
    check_levels(model, taps, [None] * len(taps), 'the official LocalMIM Swin')
    rules = [*swin_encoder_rules(r'encoder\.', 'rowmajor'),
             Rule(rf'encoder\.norm\.{last}\.(weight|bias)', rf'encoder.norm{last}.\1'),
             Rule(r'encoder\.norm\.(\d+)\.(weight|bias)', r'decoders.\1.in_norm.\2'),
             *localmim_decoder_rules(0, Rule(r'decoder\.(\d+)\.pred\.(weight|bias)',
                                             r'decoders.\1.mae.predictor.\2'))]
    converted, report = import_by_rules(checkpoint, model, 'localmim-swin-official->mmmim', rules,
                             localmim_swin_to_mmmim.expected_missing)
    report.notes.append('the official encoder is sparse (visible tokens only, no mask '
                        "token): our mask-token encoder's encoder.mask_token keeps the "
                        "config's initialization")
    note = eps_note(model.encoder, 1e-6, 'encoder')  # the official Swin-B/L use 1e-6
    report.notes += [note] if note else []
    return converted, report


@register_converter('ummae-swin-official', 'mmmim')
def ummae_swin_refusal(checkpoint: dict, model: nn.Module) -> Tuple[StateDict, LoadReport]:
    """The official UM-MAE Swin cannot be imported exactly: stop, naming why."""
    state, _ = source_tensors(checkpoint)
    posmlp = sorted(k for k in state if '.attn.posmlp.' in k)
    merges = sorted(k for k in state if re.search(r'\.downsample\.proj\.weight$', k))
    raise ConversionError(
        'the official UM-MAE Swin differs from mmmim\'s Swin, so an exact import is '
        'impossible:\n'
        f'  - position bias: an MLP of the log-spaced true coordinate offsets '
        f'({len(posmlp)} tensors, e.g. {posmlp[:1]}) where ours (mmpretrain / mmdet / '
        'mmseg Swin) learns a relative position bias table; no table reproduces the MLP '
        'on the compact grid;\n'
        f'  - patch merging: LayerNorm over C then a 2x2 stride-2 conv ({len(merges)} '
        f'tensors, e.g. {merges[:1]}) at the start of the next stage, where ours is '
        'LayerNorm over the 4C concatenated neighbours then a Linear: the two norms '
        'differ.\n'
        'Nothing was written. Pretrain with configs/ummae/ummae_swin-*, or fine-tune the '
        'official weights with the official code.')
