"""``init_cfg=dict(type='MIMPretrained', checkpoint=PATH)``: load a raw mmmim
pretraining checkpoint, or an mmpretrain classifier fine-tuned from it (``backbone.*``
and ``head.*`` keys, in ``state_dict``, ``model`` or at the top level, EMA or not),
into a downstream backbone through the right converter.

Example (see docs/converters.md for mmseg and mmdet)::

    model = dict(type='ImageClassifier',
                 backbone=dict(type='VisionTransformer', arch='b', ...),
                 init_cfg=dict(type='MIMPretrained', checkpoint='epoch_400.pth',
                               submodule='backbone'))

or on the backbone itself: ``backbone=dict(..., init_cfg=dict(type='MIMPretrained',
checkpoint=...))`` (not for backbones that read their init_cfg checkpoint
themselves: mmdet / mmseg Swin, mmdet PVT, the ViT of mmdet's ViTDet project).

The initializer loads the checkpoint with :func:`mmmim.checkpoint_io.read_checkpoint`
(``weights_only=True``; a bad file raises naming it and the problem), picks
the converter from the backbone family (detected from the keys unless ``family`` is
given) and the target library (from the module's package unless ``target`` is
given), resizes position embeddings to the module's patch grid, loads, logs the
:class:`LoadReport` through the current MMLogger and raises when the backbone did
not load.
"""
import inspect
import math
import re
from typing import List, Optional, Tuple

from mmengine.logging import print_log
from mmengine.model import BaseModule
from mmengine.model.weight_init import update_init_info
from mmengine.registry import WEIGHT_INITIALIZERS as ROOT_WEIGHT_INITIALIZERS
from torch import nn

from mmmim.checkpoint_io import read_checkpoint

from .common import get_converter, guess_family, split_backbone
from .report import LoadReport, load_converted

# top-level package of the module class -> converter target
_TARGET_OF_PACKAGE = {'mmpretrain': 'mmpretrain', 'mmmim': 'mmpretrain', 'mmseg': 'mmseg',
                      'mmdet': 'mmdet', 'timm': 'timm', 'projects': 'mmdet'}


def infer_target(module: nn.Module) -> str:
    """Converter target for ``module``: its class's ``converter_target`` if it
    declares one (mmmim's ViTDetBackbone: ``'vitdet'``), else from the package
    defining its class."""
    if getattr(type(module), 'converter_target', None):
        return type(module).converter_target
    package = type(module).__module__.split('.')[0]
    if package not in _TARGET_OF_PACKAGE:
        raise ValueError(f'cannot tell the converter target of {type(module).__name__} '
                         f'(package {package!r}): give init_cfg target=...')
    return _TARGET_OF_PACKAGE[package]


def detect_family(checkpoint: dict) -> str:
    """Backbone family of a checkpoint ('vit', 'swin', ...) from its stripped keys."""
    backbone, source, _ = split_backbone(checkpoint)
    family = guess_family(list(backbone))
    if family is None:
        raise ValueError(f'cannot tell the backbone family of this checkpoint ({source}, '
                         f'{len(backbone)} tensors): give init_cfg family=...')
    return family.split()[0]


def target_grid(module: nn.Module) -> Optional[Tuple[int, int]]:
    """Patch grid the module's absolute position embedding is built for, if any."""
    for owner, attr in ((module, 'patch_resolution'), (module, 'patch_shape'),
                        (getattr(module, 'patch_embed', None), 'grid_size')):
        grid = getattr(owner, attr, None)
        if grid is not None:
            return tuple(int(g) for g in grid)
    return None


def target_windows(module: nn.Module) -> Optional[List[int]]:
    """Per-stage window sizes of a Swin-like module, from its bias tables."""
    windows = {}
    for key, value in module.state_dict().items():
        found = re.search(r'(?:stages|layers)\.(\d+)\.blocks\.0\..*relative_position_bias_table$',
                          key)
        if found:
            side = math.isqrt(value.shape[0])
            windows[int(found.group(1))] = (side + 1) // 2
    return [windows[s] for s in sorted(windows)] or None


def target_pyramid(module: nn.Module, attr: str) -> Optional[list]:
    """Per-stage ``attr`` of a PVT-like module (``sr_ratio`` of each stage's first
    attention, ``pos_shape`` of each stage's position embedding)."""
    values = {}
    for name, sub in module.named_modules():
        found = re.match(r'(?:.*\.)?layers\.(\d+)\.1\.[01](?:\.attn)?$', name)
        if found and hasattr(sub, attr):
            values.setdefault(int(found.group(1)), getattr(sub, attr))
    return [values[s] for s in sorted(values)] or None


def converter_kwargs(converter, module: nn.Module, src_grid) -> dict:
    """What the converter accepts and the module tells: patch grid, windows,
    spatial-reduction ratios, per-stage position grids."""
    accepted = inspect.signature(converter).parameters
    offer = dict(grid=lambda: target_grid(module), src_grid=lambda: src_grid,
                 window_size=lambda: target_windows(module),
                 sr_ratios=lambda: target_pyramid(module, 'sr_ratio'),
                 grids=lambda: target_pyramid(module, 'pos_shape'))
    return {k: make() for k, make in offer.items() if k in accepted}


def weights_notes(checkpoint: dict) -> List[str]:
    """Report notes on which of the file's weights load: with mmengine's ``EMAHook``
    the saved ``state_dict`` holds the averaged weights (the hook swaps them in on
    save and keeps the raw ones in ``ema_state_dict``), and ``state_dict`` is what
    loads."""
    if isinstance(checkpoint.get('ema_state_dict'), dict) and \
            isinstance(checkpoint.get('state_dict'), dict):
        return ['EMA weights: state_dict holds the EMAHook average (the raw weights, '
                'in ema_state_dict, are not used)']
    return []


def _keep_loaded(module: nn.Module, checkpoint: str, whole: bool) -> None:
    """Protect the loaded weights from the rest of ``init_weights``.

    mmengine runs a non-'Pretrained' init_cfg *before* the children's own
    ``init_weights`` (which re-draw e.g. mmpretrain FFN weights), and mmpretrain's
    ViT re-draws ``pos_embed`` unless ``init_cfg['type'] == 'Pretrained'``. So the
    children (and, when loaded as a submodule of its parent, the module itself) are
    marked initialized, and the module's init_cfg now says the weights came from a
    pretrained checkpoint.
    """
    for sub in module.modules():
        if isinstance(sub, BaseModule) and (whole or sub is not module):
            sub._is_init = True
    if isinstance(module, BaseModule):
        module.init_cfg = dict(type='Pretrained', checkpoint=checkpoint,
                               loaded_by='MIMPretrained')


# In mmengine's root registry (see mmmim.registry): found by plain name under any
# default scope (mmmim, mmpretrain, mmdet, mmseg).
@ROOT_WEIGHT_INITIALIZERS.register_module()
class MIMPretrained:
    """Initialize a backbone from an mmmim (or mmpretrain-style) checkpoint.

    Args:
        checkpoint: path or URL of the checkpoint.
        target: 'mmpretrain' | 'timm' | 'mmseg' | 'mmdet'; inferred from the module.
        family: 'vit' | 'swin' | 'pvt'; detected from the checkpoint keys.
        src_grid: patch grid of the checkpoint's position embedding when it is not
            square.
        submodule: load into this child of the module the init_cfg belongs to
            (``'backbone'`` when set on the whole model). Needed for backbones
            that read their init_cfg checkpoint themselves (mmdet / mmseg Swin,
            mmdet PVT, mmdet's ViTDet project ViT): their own loading is then skipped.
    """

    def __init__(self, checkpoint: str, target: Optional[str] = None,
                 family: Optional[str] = None, src_grid: Optional[Tuple[int, int]] = None,
                 submodule: Optional[str] = None) -> None:
        self.checkpoint = checkpoint
        self.target = target
        self.family = family
        self.src_grid = src_grid
        self.submodule = submodule

    def __call__(self, module: nn.Module) -> LoadReport:
        if not self.checkpoint:
            where = 'model.init_cfg.checkpoint' if self.submodule else \
                'the init_cfg.checkpoint of the module it initializes'
            raise ValueError(f'MIMPretrained needs a checkpoint: set {where} '
                             '(mim_dist_train.sh PRETRAIN sets model.init_cfg.checkpoint)')
        if self.submodule:
            module = module.get_submodule(self.submodule)
        state = read_checkpoint(self.checkpoint)
        family = self.family or detect_family(state)
        converter = get_converter(family, self.target or infer_target(module))
        converted, report = converter(state, **converter_kwargs(converter, module,
                                                                self.src_grid))
        report.source += f' from {self.checkpoint}'
        report.notes[:0] = weights_notes(state)
        load_converted(module, converted, report, converter.expected_missing, check=False)
        print_log('\n' + report.summary(), logger='current')
        report.check()
        _keep_loaded(module, self.checkpoint, whole=bool(self.submodule))
        if hasattr(module, '_params_init_info'):
            update_init_info(module, init_info=f'MIMPretrained: {self.checkpoint}')
        return report


