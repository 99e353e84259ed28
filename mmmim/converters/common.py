"""What every converter shares: unwrapping a checkpoint, detecting its layout,
dropping pretraining-only modules on purpose, and the CONVERTERS registry helpers.

A converter is a pure function registered as ``'<family>-><target>'``::

    converted, report = converter(checkpoint, grid=(14, 14))

taking a raw checkpoint (mmmim pretraining ``encoder.*``, mmpretrain / mmselfsup
``backbone.*``, or keys already stripped), and returning the target's state dict
and a :class:`LoadReport`. ``converter.expected_missing`` lists (as regular
expressions) the target keys the checkpoint cannot provide.
"""
import re
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch

from mmmim.registry import CONVERTERS

from .report import LoadReport

StateDict = Dict[str, torch.Tensor]

# Layouts a checkpoint can come in: (prefix, description, other top-level modules
# that are dropped on purpose with the reason).
_PRETRAIN_DROPS = {
    'decoder.': 'decoder (pretraining only)',
    'masker.': 'masker (pretraining only)',
    'target.': 'target module (pretraining only)',
    'loss_module.': 'loss module (pretraining only)',
    'data_preprocessor.': 'data preprocessor (normalization is in the config)',
}
_CLASSIFIER_DROPS = {
    'neck.': 'neck (pretraining / classification only)',
    'head.': 'head (task specific)',
    'target_generator.': 'target generator (pretraining only)',
    'data_preprocessor.': 'data preprocessor (normalization is in the config)',
}
LAYOUTS = (
    ('encoder.', 'mmmim pretraining checkpoint (encoder.*)', _PRETRAIN_DROPS),
    ('backbone.', 'mmpretrain / mmselfsup model (backbone.*)', _CLASSIFIER_DROPS),
)

# Substrings that identify a backbone family in stripped keys (for error messages).
FAMILY_SIGNATURES: Dict[str, Tuple[str, ...]] = {
    'vit (mm layout)': (r'^layers\.\d+\.attn\.qkv\.', r'^patch_embed\.projection\.'),
    'vit (timm layout, already converted?)': (r'^blocks\.\d+\.attn\.qkv\.',
                                              r'^patch_embed\.proj\.'),
    'swin (mm layout)': (r'^stages\.\d+\.blocks\.\d+\.attn\.w_msa\.',),
    'swin (timm layout)': (r'^layers\.\d+\.blocks\.\d+\.attn\.qkv\.',),
    'pvt (mm layout)': (r'^layers\.\d+\.0\.projection\.',
                        r'^layers\.\d+\.1\.\d+\.attn\.attn\.in_proj_weight$'),
}


def unwrap(checkpoint: dict) -> Tuple[StateDict, str]:
    """The tensor dict inside a checkpoint and where it was found."""
    if not isinstance(checkpoint, dict):
        raise TypeError(f'expected a checkpoint dict, got {type(checkpoint).__name__}')
    for key in ('state_dict', 'model', 'module'):
        if isinstance(checkpoint.get(key), dict):
            return checkpoint[key], f"['{key}']"
    return checkpoint, 'top level'


def source_tensors(checkpoint: dict) -> Tuple[StateDict, str]:
    """The checkpoint's tensors (:func:`unwrap`; a DistributedDataParallel
    ``module.`` prefix removed) and where they were found."""
    state, where = unwrap(checkpoint)
    return {k[len('module.'):] if k.startswith('module.') else k: v
            for k, v in state.items() if torch.is_tensor(v)}, where


def split_backbone(checkpoint: dict) -> Tuple[StateDict, str, Dict[str, str]]:
    """Strip the layout's prefix and drop the other modules on purpose.

    Returns:
        (backbone tensors with the prefix stripped, layout description,
        dropped key -> reason).
    """
    state, where = source_tensors(checkpoint)
    for prefix, description, drops in LAYOUTS:
        if any(k.startswith(prefix) for k in state):
            backbone, dropped = {}, {}
            for key, value in state.items():
                if key.startswith(prefix):
                    backbone[key[len(prefix):]] = value
                else:
                    reason = next((r for p, r in drops.items() if key.startswith(p)),
                                  f'outside {prefix}* (not part of the backbone)')
                    dropped[key] = reason
            return backbone, f'{description} at {where}', dropped
    return state, f'backbone keys without prefix at {where}', {}


#: Encoder tensors that only pretraining uses (every family), with the reason.
PRETRAIN_ONLY = {'secondary_token': 'UM-MAE secondary token (pretraining only)',
                 'mask_token': 'mask token (pretraining only)'}


def parse_backbone(checkpoint: dict, converter: str,
                   recognise: Callable[[str], Union[bool, str]]
                   ) -> Tuple[StateDict, LoadReport, StateDict]:
    """The family parsers' shared skeleton: split the checkpoint's layout, drop the
    pretraining-only tokens on purpose, and sort every other backbone tensor by
    ``recognise(key)``: True keeps it, a string drops it on purpose for that reason,
    False lists it as unexpected.

    Returns:
        (kept tensors, report, all backbone tensors after prefix stripping).
    """
    backbone, source, dropped = split_backbone(checkpoint)
    report = LoadReport(converter, source=source, dropped_on_purpose=dropped)
    kept = {}
    for key, value in backbone.items():
        verdict = PRETRAIN_ONLY.get(key) or recognise(key)
        if verdict is True:
            kept[key] = value
        elif verdict:
            report.dropped_on_purpose[key] = verdict
        else:
            report.unexpected.append(key)
    return kept, report, backbone


def reject_unrecognised(kept: StateDict, report: LoadReport, backbone: StateDict,
                        layout: str) -> StateDict:
    """For a checkpoint without one block of the family: the kept tensors become
    unexpected, with a note on what the keys look like. Returns the empty dict."""
    report.unexpected += sorted(kept)
    family = guess_family(list(backbone))
    report.notes.append(f'{len(backbone)} tensors after prefix stripping, none of them '
                        f'{layout} keys' + (f'; they look like {family}' if family else ''))
    return {}


#: a pyramid checkpoint's blocks: stage -> block -> the parameter names found in it
StageBlocks = Dict[int, Dict[int, set]]
#: key -> (stage, block, parameter name) for a block tensor, else None
BlockLocator = Callable[[str], Optional[Tuple[int, int, str]]]


def parse_pyramid(kept: StateDict, report: LoadReport, backbone: StateDict,
                  locate: BlockLocator, layout: str, name: str,
                  incomplete: Callable[[StateDict, StageBlocks, List[int]], List[str]]
                  ) -> Tuple[StateDict, LoadReport, List[int]]:
    """The blocks per stage of a pyramid checkpoint's ``kept`` tensors (``locate`` says
    where a block tensor sits), the tensors rejected when there is no block of the
    ``layout``, and ``report.missing`` from ``incomplete``. Returns (tensors, report,
    blocks per stage)."""
    blocks: StageBlocks = {}
    for key in kept:
        found = locate(key)
        if found:
            stage, block, param = found
            blocks.setdefault(stage, {}).setdefault(block, set()).add(param)
    if not blocks:
        kept = reject_unrecognised(kept, report, backbone, layout)
    depths = [len(blocks.get(s, {})) for s in range(max(blocks, default=-1) + 1)]
    report.missing = incomplete(kept, blocks, depths)
    if kept:
        report.notes.append(f'{name} with depths {depths}')
    return kept, report, depths


def guess_family(keys: Sequence[str]) -> Optional[str]:
    """The family whose key signature these (stripped) keys carry, if any."""
    for family, patterns in FAMILY_SIGNATURES.items():
        if all(any(re.search(p, k) for k in keys) for p in patterns):
            return family
    return None


FILE_LAYOUTS = ('model', 'backbone', 'stripped')


def register_converter(family: str, target: str, expected_missing: Sequence[str] = (),
                       file_layout: str = 'stripped') -> Callable:
    """Register ``fn`` in CONVERTERS as ``'<family>-><target>'``.

    Args:
        expected_missing: regular expressions for target keys the checkpoint cannot
            provide (heads, layer scale...).
        file_layout: how the target library reads a converted file: ``'model'``
            (``{'model': keys}``, timm / ViTDet), ``'backbone'``
            (``{'state_dict': {'backbone.' + key}}``) or ``'stripped'``
            (``{'state_dict': keys}``).
    """
    if file_layout not in FILE_LAYOUTS:
        raise ValueError(f'file_layout must be one of {FILE_LAYOUTS}')

    def wrap(fn: Callable) -> Callable:
        fn.family, fn.target, fn.file_layout = family, target, file_layout
        fn.expected_missing = tuple(expected_missing)
        CONVERTERS.register_module(name=f'{family}->{target}', module=fn)
        return fn
    return wrap


def available_converters() -> List[str]:
    """Registered ``'<family>-><target>'`` names."""
    return sorted(CONVERTERS.module_dict)


def get_converter(family: str, target: str) -> Callable:
    """The converter for (family, target); KeyError naming what exists otherwise."""
    name = f'{family}->{target}'
    fn = CONVERTERS.get(name)
    if fn is None:
        raise KeyError(f'no converter {name!r}; registered: {available_converters()}')
    return fn


def convert_checkpoint(checkpoint: dict, family: str, target: str, check: bool = True,
                       **kwargs) -> Tuple[StateDict, LoadReport]:
    """Run the registered converter; raise unless the backbone converted (check)."""
    converted, report = get_converter(family, target)(checkpoint, **kwargs)
    if check:
        report.check()
    return converted, report
