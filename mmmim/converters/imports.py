"""Importing released pretraining checkpoints (encoder AND decoder) into an mmmim
pretraining model built from a config (``convert.py SRC DST --to mmmim --config CFG``).

An importer is registered in CONVERTERS as ``'<source>->mmmim'`` and called as
``importer(checkpoint, model) -> (state_dict, LoadReport)``: it renames the source's
tensors with a list of :class:`Rule` (regular expression on the source key -> key of
the mmmim model, or a reason to drop it), reshapes the few tensors whose layout
differs (patch-merging inputs, a 1x1 conv decoder), then :func:`finish_import`
compares the result with the model's own state dict, resizes position tables whose
grid differs, takes the tensors the source cannot have (``expected_missing``: index
buffers, a mask token the official encoder does not use) from the freshly built
model, and fails unless the encoder and every decoder loaded completely.

The per-source key layouts are documented beside their rules
(:mod:`.import_vit`, :mod:`.import_swin`).
"""
import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from mmmim.models.pos_embed import resize_abs_pos_embed, resize_rel_pos_bias_table, sincos_pos_embed

from .common import StateDict, available_converters, get_converter, source_tensors
from .files import format_of, read_source, report_metadata, save_safetensors
from .report import ConversionError, LoadReport

TARGET = 'mmmim'
#: prefixes of the model's parts that must load completely, with their names
PARTS = (('encoder.', 'encoder'), ('decoder.', 'decoder'), ('decoders.', 'decoders'))
#: what an import must load (the report's status line)
PART = 'encoder and decoder'
#: target keys no source provides: rebuilt buffers; taken from the built model
ALWAYS_FROM_MODEL = (r'relative_position_index$',)


@dataclass(frozen=True)
class Rule:
    """``pattern`` (``re.fullmatch`` on a source key) -> ``target`` (a template
    expanded with the match, e.g. ``r'encoder.layers.\\1.ln1.\\2'``); ``target=None``
    drops the tensor on purpose for ``reason`` (a string, or a function of the
    tensor giving one). ``transform(value)`` reshapes the tensor on its way."""
    pattern: str
    target: Optional[str] = None
    reason: Union[str, Callable[[torch.Tensor], str]] = ''
    transform: Optional[Callable[[torch.Tensor], torch.Tensor]] = None


def renamed(src_prefix: str, dst_prefix: str, pairs: Sequence[Tuple[str, str]]
            ) -> List[Rule]:
    """Rules for ``<src_prefix><a>.(weight|bias)`` -> ``<dst_prefix><b>.<same>`` for
    each ``(a, b)`` in ``pairs``; the prefixes may hold groups (block indices)."""
    groups = re.compile(src_prefix).groups
    return [Rule(src_prefix + re.escape(a) + r'\.(weight|bias)',
                 f'{dst_prefix}{b}.\\{groups + 1}') for a, b in pairs]


def apply_rules(state: StateDict, rules: Sequence[Rule], report: LoadReport) -> StateDict:
    """Rename ``state`` by the first rule matching each key; unmatched keys are
    listed as unexpected in ``report``, dropped ones with their reason."""
    compiled = [(re.compile(r.pattern), r) for r in rules]
    converted = {}
    for key, value in state.items():
        found = next(((m, r) for p, r in compiled for m in [p.fullmatch(key)] if m), None)
        if found is None:
            report.unexpected.append(key)
            continue
        match, rule = found
        if rule.target is None:
            reason = rule.reason(value) if callable(rule.reason) else rule.reason
            report.dropped_on_purpose[key] = reason
            continue
        converted[match.expand(rule.target)] = (rule.transform(value) if rule.transform
                                                else value)
    return converted


def position_permutation(table: torch.Tensor, extra_tokens: int) -> Optional[torch.Tensor]:
    """For a fixed position table ``[1, E + h*w, D]`` (square grid): ``perm`` with
    ``ours[:, i] == table[:, perm[i]]`` for our 2D sin-cos table ``ours`` (the
    identity when the layouts agree), or None when no channel permutation gives it."""
    grid = table[0, extra_tokens:].float()                              # [L, D]
    side = math.isqrt(grid.shape[0])
    if side < 2 or side * side != grid.shape[0] or grid.shape[-1] % 4:
        return None
    ours = sincos_pos_embed((side, side), grid.shape[-1])[0]
    gaps = torch.cdist(ours.T, grid.T, p=float('inf'))                  # [D, D]
    perm = gaps.argmin(dim=1)
    exact = bool(gaps.gather(1, perm[:, None]).max() < 1e-4)
    return perm if exact and len(set(perm.tolist())) == len(perm) else None


def sincos_reason(extra_tokens: int, aligned: bool = False) -> Callable[[torch.Tensor], str]:
    """Drop reason for a fixed decoder position table ``[1, E + h*w, D]``: says
    whether it is the 2D sin-cos table our decoders regenerate, or a channel
    permutation of it (undone exactly when the importer ``aligned`` the decoder)."""
    def reason(value: torch.Tensor) -> str:
        perm = position_permutation(value, extra_tokens)
        if perm is None:
            return ('fixed decoder positions, NOT a 2D sin-cos table of ours; the decoder '
                    'uses its own sin-cos table')
        if torch.equal(perm, torch.arange(len(perm))):
            return 'fixed 2D sin-cos decoder positions (the decoder regenerates the same table)'
        if aligned:
            return ('fixed 2D sin-cos decoder positions in another channel order (the '
                    "decoder's channels are permuted to our table's order)")
        return ('fixed 2D sin-cos decoder positions in another channel order, NOT undone '
                'for this decoder: its positions differ from the source model')
    return reason


def fit_shapes(converted: StateDict, target: StateDict, report: LoadReport) -> None:
    """Resize, in place, the encoder's absolute position embedding and relative
    position bias tables whose grid differs from the target's (noted)."""
    for key, value in list(converted.items()):
        want = target.get(key)
        if want is None or want.shape == value.shape:
            continue
        if key.endswith('pos_embed') and value.dim() == 3 and value.shape[-1] == want.shape[-1]:
            extra = 1 if key == 'encoder.pos_embed' and 'encoder.cls_token' in target else 0
            side = math.isqrt(want.shape[1] - extra)
            converted[key] = resize_abs_pos_embed(value, (side, side), num_extra_tokens=extra)
        elif key.endswith('relative_position_bias_table') and value.shape[1] == want.shape[1]:
            window = (math.isqrt(want.shape[0]) + 1) // 2
            converted[key] = resize_rel_pos_bias_table(value, (window, window))
        else:
            continue
        report.notes.append(f'{key} resized (bicubic) {tuple(value.shape)} -> '
                            f'{tuple(converted[key].shape)}')


def eps_note(module: nn.Module, official_eps: float, what: str) -> Optional[str]:
    """A note when ``module``'s LayerNorms use another eps than the source's
    (the weights import exactly; the outputs then differ slightly)."""
    eps = sorted({m.eps for m in module.modules() if isinstance(m, nn.LayerNorm)})
    if not eps or eps == [official_eps]:
        return None
    return (f'{what}: the source\'s LayerNorms use eps {official_eps:g}, this model\'s '
            f'{", ".join(f"{e:g}" for e in eps)} (outputs differ slightly)')


def check_parts(report: LoadReport, target: StateDict) -> None:
    """Note how much of each part loaded; raise :class:`ConversionError` naming the
    part when the encoder or a decoder is not complete."""
    matched = set(report.matched) | set(report.expected_missing)
    for prefix, name in PARTS:
        keys = [k for k in target if k.startswith(prefix)]
        if not keys:
            continue
        loaded = [k for k in keys if k in matched]
        report.notes.append(f'{name}: {len(loaded)}/{len(keys)} tensors')
        if len(loaded) < len(keys):
            lost = sorted(set(keys) - set(loaded))
            raise ConversionError(
                f'the {name} did not load: {len(lost)} of its {len(keys)} tensors have no '
                f'source tensor ({", ".join(lost[:4])}{", ..." if len(lost) > 4 else ""}).'
                f'\n{report.summary()}')


def finish_import(converted: StateDict, report: LoadReport, model: nn.Module,
                  expected_missing: Sequence[str] = ()) -> Tuple[StateDict, LoadReport]:
    """Compare with ``model``'s state dict; returns the complete state dict the model
    loads strictly (expected-missing keys taken from the built model) and the report.
    Raises :class:`ConversionError` unless the encoder and decoders fully loaded."""
    target = model.state_dict()
    fit_shapes(converted, target, report)
    report.compare_with(converted, target, type(model).__name__,
                        tuple(expected_missing) + ALWAYS_FROM_MODEL)
    if report.expected_missing:
        report.notes.append('taken from the model built from the config: '
                            + ', '.join(sorted(report.expected_missing)[:4])
                            + (' ...' if len(report.expected_missing) > 4 else ''))
    check_parts(report, target)
    report.check()
    complete = {k: target[k] for k in report.expected_missing}
    complete.update({k: converted[k] for k in report.matched})
    return complete, report


def import_by_rules(checkpoint: dict, model: nn.Module, name: str, rules: Sequence[Rule],
                    expected_missing: Sequence[str] = (),
                    adjust: Optional[Callable[[StateDict, StateDict, LoadReport], None]] = None
                    ) -> Tuple[StateDict, LoadReport]:
    """The importers' shared body: unwrap, rename by ``rules``, ``adjust(source,
    converted, report)`` in place if given, finish against ``model``."""
    state, where = source_tensors(checkpoint)
    report = LoadReport(name, source=f'{name.split("->")[0]} checkpoint at {where}',
                        part=PART)
    converted = apply_rules(state, rules, report)
    if adjust is not None:
        adjust(state, converted, report)
    return finish_import(converted, report, model, expected_missing)


#: key signatures of the importable sources (first match wins), on the
#: checkpoint's tensors after unwrapping
SOURCE_SIGNATURES: Dict[str, Tuple[str, ...]] = {
    'ummae-swin-official': (r'\.attn\.posmlp\.',),
    'localmim-swin-official': (r'^encoder\.layers\.\d+\.blocks\.', r'^decoder\.\d+\.embed\.'),
    'localmim-vit-official': (r'^blocks\.\d+\.attn\.qkv\.', r'^decoder\.\d+\.embed\.'),
    'simmim-swin-official': (r'^encoder\.layers\.\d+\.blocks\.', r'^decoder\.0\.weight$'),
    'mae-official': (r'^blocks\.\d+\.attn\.qkv\.', r'^decoder_blocks\.\d+\.'),
    'mae-mmpretrain': (r'^backbone\.layers\.\d+\.attn\.qkv\.', r'^neck\.decoder_embed\.'),
    'simmim-mmpretrain': (r'^backbone\.stages\.\d+\.', r'^neck\.decoder\.0\.weight$'),
}


def detect_source(checkpoint: dict) -> str:
    """Which released layout a checkpoint is in (see :data:`SOURCE_SIGNATURES`)."""
    state, where = source_tensors(checkpoint)
    for source, patterns in SOURCE_SIGNATURES.items():
        if all(any(re.search(p, k) for k in state) for p in patterns):
            return source
    hint = ''
    if any(k.startswith('encoder.') for k in state) and any(
            k.startswith(('decoder.', 'decoders.')) for k in state):
        hint = ' It looks like an mmmim checkpoint already: give it to load_from directly.'
    raise ValueError(f'cannot tell which released pretraining checkpoint this is '
                     f'({len(state)} tensors at {where}); known sources: '
                     f'{sorted(SOURCE_SIGNATURES)} (give --source).{hint}')


def import_sources() -> List[str]:
    """Registered ``'<source>->mmmim'`` sources."""
    return sorted(n.split('->')[0] for n in available_converters()
                  if n.endswith(f'->{TARGET}'))


def import_checkpoint(checkpoint: dict, model: nn.Module, source: Optional[str] = None
                      ) -> Tuple[StateDict, LoadReport]:
    """Import ``checkpoint`` into ``model``'s keys (source detected unless given)."""
    source = source or detect_source(checkpoint)
    return get_converter(source, TARGET)(checkpoint, model)


def built_quietly(config: str, cfg_options: Optional[dict] = None) -> nn.Module:
    """The config's model, initialized as the Runner does (so tensors no source has
    start from the config's init), without mmengine's per-parameter init log."""
    from mmengine.logging import MMLogger

    from mmmim.config_loading import build_model_from_cfg, load_config
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        return build_model_from_cfg(load_config(config, cfg_options))
    finally:
        logger.setLevel(level)


def import_file(src: str, dst: str, config: str, source: Optional[str] = None,
                cfg_options: Optional[dict] = None, fmt: Optional[str] = None
                ) -> Tuple[StateDict, LoadReport]:
    """Import ``src`` (any checkpoint, or ``.safetensors``) for the pretraining model
    of ``config``; write ``dst``: ``{'state_dict': ..., 'meta': {... 'load_report':
    ...}}`` (what ``load_from`` and ``visualize_reconstruction.py`` read), or with
    ``fmt='safetensors'`` (or a ``.safetensors`` dst) the flat keys with the report
    in the metadata. Nothing is written on failure."""
    fmt = format_of(dst, fmt)
    model = built_quietly(config, cfg_options)
    checkpoint = read_source(src)
    source = source or detect_source(checkpoint)
    state, report = import_checkpoint(checkpoint, model, source)
    report.source += f' from {src}'
    meta = dict(imported_from=str(src), source=source, config=str(config))
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    if fmt == 'safetensors':
        save_safetensors(state, dst, report_metadata(report, **meta))
    else:
        torch.save({'state_dict': state, 'meta': dict(meta, load_report=report.summary())},
                   dst)
    return state, report


def check_load_from(model: nn.Module, path: str) -> LoadReport:
    """What ``load_from=path`` gives ``model`` (mmengine loads with ``strict=False``
    and only warns): the load report; raises :class:`ConversionError` when the
    encoder or a decoder would not load, and for a released checkpoint that must be
    imported first (saying how)."""
    checkpoint = read_source(path)
    try:
        source = detect_source(checkpoint)
    except ValueError:
        source = None
    if source is not None:
        raise ConversionError(
            f'{path} is a released {source} checkpoint, not an mmmim one: load_from would '
            f'load nothing. Import it first: python tools/model_converters/convert.py '
            f'{path} IMPORTED.pth --to mmmim --config CONFIG')
    state, where = source_tensors(checkpoint)
    target = model.state_dict()
    report = LoadReport('load_from', source=f'{path} at {where}', part=PART)
    report.compare_with(state, target, type(model).__name__)
    check_parts(report, target)
    report.check()
    return report


def import_file_cli(src: str, dst: str, config: Optional[str], source: Optional[str] = None,
                    cfg_options: Optional[dict] = None, fmt: Optional[str] = None) -> int:
    """:func:`import_file` for the command line: prints the report, or the reason on
    stderr; returns the exit status (1 on failure, nothing written)."""
    import sys

    from mmmim.checkpoint_io import CheckpointError
    if not config:
        print('--to mmmim needs --config (the pretraining config to import into)',
              file=sys.stderr)
        return 1
    try:
        state, report = import_file(src, dst, config, source, cfg_options, fmt)
    except (CheckpointError, ConversionError, ValueError, KeyError) as err:
        print(f'import failed: {err}', file=sys.stderr)
        return 1
    print(report.summary())
    print(f'saved {len(state)} tensors to {dst} (tools/train.py {config} '
          f'--cfg-options load_from={dst})')
    return 0
