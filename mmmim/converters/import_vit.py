"""Importers of released ViT pretraining checkpoints into mmmim models.

**Official MAE** (facebookresearch/mae ``models_mae.py``, ``MaskedAutoencoderViT``;
``mae_pretrain_vit_{base,large,huge}_full.pth`` hold ``{'model': ...}``), with
C = encoder width, D = decoder width, L = patches, p = patch side::

    patch_embed.proj.{weight [C, 3, p, p], bias [C]}
    cls_token [1, 1, C], pos_embed [1, 1 + L, C] (fixed sin-cos)
    blocks.i.{norm1, attn.qkv [3C, C], attn.proj, norm2, mlp.fc1, mlp.fc2}.*  (timm Block)
    norm.*                                                   encoder final norm
    decoder_embed [D, C], mask_token [1, 1, D], decoder_pos_embed [1, 1 + L, D]
    decoder_blocks.j.* (timm Block), decoder_norm.*, decoder_pred [p*p*3, D]
    [vis_mask_token [1, 1, C]]   UM-MAE ViT (implus/UM-MAE models_mae.py, same layout):
                                 replaces secondary-masked patches before the positions

-> ``encoder.*`` (mmpretrain ViT keys: ``patch_embed.projection``, ``layers.i.{ln1,
attn.qkv, attn.proj, ln2, ffn.layers.0.0, ffn.layers.1}``, ``ln1``) and ``decoder.*``
(:class:`MAEDecoder`: ``embed``, ``mask_token``, ``blocks.j``, ``norm``,
``predictor``; UM-MAE's ``vis_mask_token`` is our ``encoder.secondary_token``, which
a UM-MAE config builds). q/k/v stay one fused ``qkv`` Linear in both (same [q; k; v] rows);
``decoder_pos_embed`` is dropped: our decoder regenerates the fixed sin-cos table
(the report says whether the checkpoint's equals it).

mmpretrain's decoder table (``build_2d_sincos_position_embedding``) is ours with its
two halves swapped (row and column encodings exchanged). A decoder is equivariant to
a permutation of its residual-stream channels, so :func:`align_decoder_stream`
permutes them (rows of the Linears writing the stream, columns of those reading it,
the norms and the mask token) until the checkpoint's table is ours: the imported
decoder then computes exactly what the source decoder did.

**mmpretrain / mmselfsup MAE and PixMIM** (``MAE`` / ``PixMIM`` selfsup models:
``MAEViT`` backbone, ``MAEPretrainDecoder`` neck, a loss-only head)::

    backbone.*                               mmpretrain ViT keys (= ours)
    neck.{decoder_embed, mask_token, decoder_pos_embed, decoder_blocks.j.* (mm keys),
          ln1 (decoder norm), decoder_pred}

**Official LocalMIM ViT** (huawei-noah/Efficient-Computing
``Self-supervised/LocalMIM/ViT/models_mim.py``; ``{'model': ...}``): the MAE encoder
without its final norm; one norm per tapped level, taps after blocks
``1, 3, depth-3, depth-1``, one small decoder per level (scales 4, 2, 1, 0.5)::

    patch_embed.proj.*, cls_token, pos_embed, blocks.i.*       as MAE
    norm.k.*                       level k's norm of its tap (k = 0..3)
    decoder.k.{embed, mask_token, pos_embed [1, 1 + L, D] (sin-cos), blocks.j.*,
               norm, pred.m.*}    pred: [ConvT, LayerNorm2d, GELU, ConvT] / [ConvT] /
                                  [] / [AvgPool] by scale, then a 1x1 Conv
    hog_enc.k.conv.*               HOG target's fixed Sobel filters

-> ``norm.k`` is ``decoders.k.in_norm`` for the three block taps and the encoder's
final ``ln1`` for the last (our ``out`` tap), ``decoder.k`` is ``decoders.k.mae``
with ``pred`` as ``decoders.k.head`` (same Sequential indices).
"""
import re
from typing import Callable, List, Tuple

import torch
from torch import nn

from .common import StateDict, register_converter, source_tensors
from .imports import (
    Rule,
    eps_note,
    import_by_rules,
    position_permutation,
    renamed,
    sincos_reason,
)
from .report import ConversionError, LoadReport

#: timm ``Block`` parameter names -> mmpretrain ``TransformerEncoderLayer`` ones
TIMM_BLOCK = (('norm1', 'ln1'), ('attn.qkv', 'attn.qkv'), ('attn.proj', 'attn.proj'),
              ('norm2', 'ln2'), ('mlp.fc1', 'ffn.layers.0.0'), ('mlp.fc2', 'ffn.layers.1'))
HOG_FILTERS = Rule(r'hog_enc\..+', reason='HOG target filters (fixed; HOGTarget builds its own)')


#: parts of an mmpretrain selfsup model that hold no weights of ours
MMPRETRAIN_EXTRAS = (
    Rule(r'(head|target_generator)\..+', reason='loss head / target generator (not a '
         'module of the pretraining model)'),
    Rule(r'data_preprocessor\..+', reason='data preprocessor (normalization is in the config)'))


def timm_vit_encoder_rules() -> List[Rule]:
    """Official MAE-style (timm) ViT encoder keys -> ``encoder.*`` (no final norm)."""
    return [Rule(r'patch_embed\.proj\.(weight|bias)', r'encoder.patch_embed.projection.\1'),
            Rule('cls_token', 'encoder.cls_token'),
            Rule('pos_embed', 'encoder.pos_embed'),
            *renamed(r'blocks\.(\d+)\.', r'encoder.layers.\1.', TIMM_BLOCK)]


def mae_official_rules() -> List[Rule]:
    return [*timm_vit_encoder_rules(),
            Rule(r'norm\.(weight|bias)', r'encoder.ln1.\1'),
            Rule('vis_mask_token', 'encoder.secondary_token'),
            Rule(r'decoder_embed\.(weight|bias)', r'decoder.embed.\1'),
            Rule('mask_token', 'decoder.mask_token'),
            Rule('decoder_pos_embed', reason=sincos_reason(1, aligned=True)),
            *renamed(r'decoder_blocks\.(\d+)\.', r'decoder.blocks.\1.', TIMM_BLOCK),
            Rule(r'decoder_norm\.(weight|bias)', r'decoder.norm.\1'),
            Rule(r'decoder_pred\.(weight|bias)', r'decoder.predictor.\1')]


def mmpretrain_mae_rules() -> List[Rule]:
    return [Rule(r'backbone\.(.+)', r'encoder.\1'),
            Rule(r'neck\.decoder_embed\.(weight|bias)', r'decoder.embed.\1'),
            Rule(r'neck\.mask_token', 'decoder.mask_token'),
            Rule(r'neck\.decoder_pos_embed', reason=sincos_reason(1, aligned=True)),
            Rule(r'neck\.decoder_blocks\.(.+)', r'decoder.blocks.\1'),
            Rule(r'neck\.ln1\.(weight|bias)', r'decoder.norm.\1'),
            Rule(r'neck\.decoder_pred\.(weight|bias)', r'decoder.predictor.\1'),
            *MMPRETRAIN_EXTRAS]


def localmim_decoder_rules(extra_tokens: int, predictor: Rule) -> List[Rule]:
    """The official LocalMIM decoders (``decoder.<level>.``, ViT and Swin alike) onto
    ours (``decoders.<level>.mae.``): their positions are regenerated sin-cos
    (``extra_tokens`` class tokens), ``predictor`` maps their output layers."""
    return [Rule(r'decoder\.(\d+)\.embed\.(weight|bias)', r'decoders.\1.mae.embed.\2'),
            Rule(r'decoder\.(\d+)\.mask_token', r'decoders.\1.mae.mask_token'),
            Rule(r'decoder\.(\d+)\.pos_embed', reason=sincos_reason(extra_tokens)),
            *renamed(r'decoder\.(\d+)\.blocks\.(\d+)\.', r'decoders.\1.mae.blocks.\2.',
                     TIMM_BLOCK),
            Rule(r'decoder\.(\d+)\.norm\.(weight|bias)', r'decoders.\1.mae.norm.\2'),
            predictor, HOG_FILTERS]


def localmim_vit_rules() -> List[Rule]:
    """Level 3's norm (the last block's output) is our encoder's final norm."""
    return [*timm_vit_encoder_rules(),
            Rule(r'norm\.3\.(weight|bias)', r'encoder.ln1.\1'),
            Rule(r'norm\.(\d)\.(weight|bias)', r'decoders.\1.in_norm.\2'),
            *localmim_decoder_rules(1, Rule(r'decoder\.(\d+)\.pred\.(\d+)\.(weight|bias)',
                                            r'decoders.\1.head.\2.\3'))]


#: MAEDecoder tensors (after ``decoder.``) by how they touch the residual stream:
#: index its channels along dim 0 (writers and per-channel vectors) or dim 1 (readers)
STREAM_DIM0 = ('embed.weight', 'embed.bias', 'attn.proj.weight', 'attn.proj.bias',
               'ffn.layers.1.weight', 'ffn.layers.1.bias', 'ln1.weight', 'ln1.bias',
               'ln2.weight', 'ln2.bias', 'norm.weight', 'norm.bias')
STREAM_DIM1 = ('attn.qkv.weight', 'ffn.layers.0.0.weight', 'predictor.weight')


def permute_stream(converted: StateDict, prefix: str, perm: torch.Tensor) -> None:
    """Reorder, in place, the residual-stream channels of the MAEDecoder under
    ``prefix``: new channel i is old channel ``perm[i]`` (its outputs are unchanged)."""
    for key, value in list(converted.items()):
        if not key.startswith(prefix):
            continue
        name = re.sub(r'^blocks\.\d+\.', '', key[len(prefix):])
        if name == 'mask_token':
            converted[key] = value[..., perm]
        elif name in STREAM_DIM0:
            converted[key] = value[perm]
        elif name in STREAM_DIM1:
            converted[key] = value[:, perm]


def align_decoder_stream(table_key: str, prefix: str
                         ) -> Callable[[StateDict, StateDict, LoadReport], None]:
    """``adjust`` step: permute the decoder under ``prefix`` so that the source's
    position table ``table_key`` becomes our sin-cos table (nothing when it is)."""
    def adjust(state: StateDict, converted: StateDict, report: LoadReport) -> None:
        table = state.get(table_key)
        perm = None if table is None else position_permutation(table, 1)
        if perm is not None and not torch.equal(perm, torch.arange(len(perm))):
            permute_stream(converted, prefix, perm)
            report.notes.append(f"{table_key} is our sin-cos table with its channels "
                                f"permuted: the decoder's stream channels were permuted "
                                'to match (exact)')
    return adjust


def check_levels(model: nn.Module, taps: List[str], scales: List, source: str) -> None:
    """Raise unless ``model`` has the source's levels (taps and decoder scales) in
    the source's order, so level k's tensors land on decoder k."""
    levels = getattr(model, 'levels', None)
    decoders = getattr(model, 'decoders', None)
    ours = ([lvl.tap for lvl in levels], [getattr(d, 'scale', '?') for d in decoders]
            ) if levels is not None and decoders is not None else None
    if ours != (taps, scales):
        got = 'no levels (not a MultiLevelMaskedImageModel)' if ours is None else \
            f'taps {ours[0]} with scales {ours[1]}'
        raise ConversionError(f'{source} has levels at taps {taps} with scales {scales}; '
                              f'the config builds {got}: use a LocalMIM config with the '
                              'same levels')


@register_converter('mae-official', 'mmmim')
def mae_official_to_mmmim(checkpoint: dict, model: nn.Module) -> Tuple[StateDict, LoadReport]:
    """Official MAE full checkpoint -> an mmmim MAE model (``MAEDecoder``)."""
    return import_by_rules(checkpoint, model, 'mae-official->mmmim', mae_official_rules(),
                           adjust=align_decoder_stream('decoder_pos_embed', 'decoder.'))


@register_converter('mae-mmpretrain', 'mmmim')
def mae_mmpretrain_to_mmmim(checkpoint: dict, model: nn.Module
                            ) -> Tuple[StateDict, LoadReport]:
    """mmpretrain / mmselfsup MAE or PixMIM checkpoint -> an mmmim MAE / PixMIM model."""
    return import_by_rules(checkpoint, model, 'mae-mmpretrain->mmmim', mmpretrain_mae_rules(),
                           adjust=align_decoder_stream('neck.decoder_pos_embed', 'decoder.'))


@register_converter('localmim-vit-official', 'mmmim')
def localmim_vit_to_mmmim(checkpoint: dict, model: nn.Module) -> Tuple[StateDict, LoadReport]:
    """Official LocalMIM ViT -> an mmmim LocalMIM ViT model (four levels)."""
    state, _ = source_tensors(checkpoint)
    depth = 1 + max((int(k.split('.')[1]) for k in state if k.startswith('blocks.')),
                    default=-1)
    check_levels(model, ['block1', 'block3', f'block{depth - 3}', 'out'], [4, 2, 1, 0.5],
                 'the official LocalMIM ViT')
    converted, report = import_by_rules(checkpoint, model, 'localmim-vit-official->mmmim',
                                        localmim_vit_rules())
    note = eps_note(model.decoders[0].head, 1e-6, 'x4 head')  # official channels-first LN
    report.notes += [note] if note else []
    return converted, report
