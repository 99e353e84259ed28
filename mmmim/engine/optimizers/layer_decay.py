"""Layer-wise learning-rate decay for classifiers, detectors and segmentors.

A parameter at depth ``d`` of ``D + 1`` depths gets ``lr * rate ** (D - d)``. Depths
come from the backbone's own ``get_layer_depth`` (mmpretrain's ViT / Swin, our
encoders) or its family rule (mmdet / mmseg Swin, mmdet PVT, mmseg MAE / BEiT, timm /
ViTDet ViT): one rule per family, in :mod:`mmmim.models.layer_depth`, where the stem,
stage boundaries and the names the papers place differently from a first guess
(ViT ``pre_norm``, Swin ``absolute_pos_embed``: top) are documented. Parameters
outside the backbone (neck, heads, a detector's RPN / RoI heads, a segmentor's decode
heads) are at depth ``D``, lr scale 1.

Weight decay is 0 for 1-D parameters (norms, biases, layer scales) and for
position embeddings, class / mask tokens and relative position tables, matched on the
parameter's own (last) name inside the backbone, so ``backbone.`` prefixes cannot hide
them (mmseg's constructor compares prefixed names and decays ``pos_embed``). This is
the default, the pretraining and fine-tuning rule (MAE / BEiT / timm). A downstream
config that follows another reference states that reference's exemptions through
``paramwise_cfg`` (see :class:`LayerDecayOptimWrapperConstructor`), e.g. detectron2's
ViTDet (norm layers of the backbone and ``pos_embed`` only; biases and relative
positions decayed), mmdet's Swin (norm layers, ``absolute_pos_embed``,
``relative_position_bias_table``) or the official PVT (nothing exempt).

The groups (depth, lr scale, lr, weight decay, parameter count and names) are logged
through the current MMLogger when the optimizer is built; the scheduler scales every
group by the same factor, so a group's lr at any step is its ``lr_scale`` times the lr
of the top group (mmengine logs the first group's lr; groups are ordered top first).

Detection and segmentation configs name it with the scope prefix, after importing
``mmmim.engine`` (which registers it)::

    custom_imports = dict(imports=['mmmim.engine'], allow_failed_imports=False)
    optim_wrapper = dict(
        type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05),
        constructor='mmmim.LayerDecayOptimWrapperConstructor',
        paramwise_cfg=dict(layer_decay_rate=0.7))
"""
from typing import Dict, List, Optional, Set, Tuple

from mmengine.logging import MMLogger
from mmengine.optim import DefaultOptimWrapperConstructor
from torch import nn
from torch.nn.modules.batchnorm import _NormBase

from mmmim.models.layer_depth import layer_depth_rule
from mmmim.registry import OPTIM_WRAPPER_CONSTRUCTORS

NO_DECAY = ('pos_embed', 'absolute_pos_embed', 'cls_token', 'dist_token', 'mask_token',
            'secondary_token', 'relative_position_bias_table', 'rel_pos_h', 'rel_pos_w')
# normalization layers by type, as detectron2's ``get_default_optimizer_params``
# (batch / sync-batch / instance norms are ``_NormBase``); mmpretrain's ``LN2d`` is an
# ``nn.LayerNorm``
NORM_TYPES = (_NormBase, nn.GroupNorm, nn.LayerNorm)
NORM_SCOPES = (None, 'backbone', 'all')


def backbone_and_prefix(model: nn.Module) -> Tuple[nn.Module, str]:
    """``model.backbone`` and ``'backbone.'`` for a classifier / detector / segmentor,
    else the model itself and ``''``."""
    backbone = getattr(model, 'backbone', None)
    if isinstance(backbone, nn.Module):
        return backbone, 'backbone.'
    return model, ''


def norm_parameter_names(model: nn.Module, prefix: str, scope: Optional[str]) -> Set[str]:
    """Full names of the parameters of normalization layers (:data:`NORM_TYPES`):
    none (``scope=None``), those under ``prefix`` (``'backbone'``) or all (``'all'``)."""
    if scope is None:
        return set()
    names = set()
    for module_name, module in model.named_modules():
        if isinstance(module, NORM_TYPES):
            names.update(f'{module_name}.{p}' if module_name else p
                         for p, _ in module.named_parameters(recurse=False))
    if scope == 'backbone':
        names = {n for n in names if n.startswith(prefix)}
    return names


def no_weight_decay(name: str, param: nn.Parameter, prefix: str, names: Tuple[str, ...],
                    one_dim: bool = True) -> bool:
    """1-D (when ``one_dim``), or the parameter's own name (or its whole name inside
    the backbone) is one of ``names``."""
    inner = name[len(prefix):] if name.startswith(prefix) else name
    return ((one_dim and param.ndim <= 1) or inner in names
            or inner.rsplit('.', 1)[-1] in names)


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Optimizer wrapper constructor with layer-wise lr decay (see the module doc).

    ``paramwise_cfg``: ``layer_decay_rate`` (e.g. 0.65 MAE / PixMIM ViT-B, 0.8 UM-MAE
    ViT-B, 0.85 PVT-S / Swin-T, 0.7 Swin-L and ViTDet) and the weight-decay
    exemptions, a parameter being exempt when any of these says so:

    - ``no_decay_1d`` (default True): every 1-D parameter (norms, biases, layer scales);
    - ``no_decay_names`` (default :data:`NO_DECAY`): parameters whose own name, or whole
      name inside the backbone, is one of these;
    - ``no_decay_norms`` (default None): the parameters of normalization layers
      (:data:`NORM_TYPES`) in the ``'backbone'`` only or in ``'all'`` the model.

    The defaults are the pretraining / fine-tuning rule. The model is a classifier /
    detector / segmentor (``model.backbone``) or a backbone.
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: dict = None) -> None:
        paramwise_cfg = dict(paramwise_cfg or {})
        self.layer_decay_rate = float(paramwise_cfg.pop('layer_decay_rate', 1.0))
        self.no_decay_names = tuple(paramwise_cfg.pop('no_decay_names', NO_DECAY))
        self.no_decay_1d = bool(paramwise_cfg.pop('no_decay_1d', True))
        self.no_decay_norms = paramwise_cfg.pop('no_decay_norms', None)
        if paramwise_cfg:
            raise ValueError('LayerDecayOptimWrapperConstructor: unsupported paramwise_cfg '
                             f'keys {sorted(paramwise_cfg)} (supported: layer_decay_rate, '
                             'no_decay_1d, no_decay_names, no_decay_norms)')
        if not 0 < self.layer_decay_rate <= 1:
            raise ValueError('LayerDecayOptimWrapperConstructor: layer_decay_rate must be '
                             f'in (0, 1], got {self.layer_decay_rate}')
        if self.no_decay_norms not in NORM_SCOPES:
            raise ValueError('LayerDecayOptimWrapperConstructor: no_decay_norms must be one '
                             f'of {NORM_SCOPES}, got {self.no_decay_norms!r}')
        super().__init__(optim_wrapper_cfg, None)
        # non-empty, so that the base __call__ builds groups through add_params
        self.paramwise_cfg = dict(layer_decay_rate=self.layer_decay_rate)

    def add_params(self, params: List[dict], module: nn.Module, **kwargs) -> None:
        backbone, prefix = backbone_and_prefix(module)
        depth_of = layer_depth_rule(backbone)
        norms = norm_parameter_names(module, prefix, self.no_decay_norms)
        groups: Dict[Tuple[int, bool], dict] = {}
        num_depths = None
        for name, param in module.named_parameters():
            if not param.requires_grad:
                continue
            depth, num_depths = depth_of(name, prefix)
            decay = not (name in norms or no_weight_decay(
                name, param, prefix, self.no_decay_names, self.no_decay_1d))
            scale = self.layer_decay_rate ** (num_depths - 1 - depth)
            group = groups.setdefault((depth, decay), dict(
                params=[], names=[], layer_depth=depth, lr_scale=scale,
                lr=self.base_lr * scale,
                weight_decay=self.base_wd if decay and self.base_wd else 0.))
            group['params'].append(param)
            group['names'].append(name)
        if not groups:
            raise ValueError(f'{type(module).__name__} has no trainable parameters')
        ordered = [groups[key] for key in sorted(groups, key=lambda k: (-k[0], not k[1]))]
        params.extend(ordered)
        MMLogger.get_current_instance().info(self.table(ordered, num_depths - 1))

    def table(self, groups: List[dict], top: int) -> str:
        """One row per group: depth, lr scale, lr, weight decay, count, names."""
        rows = [f'layer-wise lr decay {self.layer_decay_rate} over depths 0..{top} '
                f'(base lr {self.base_lr}, {len(groups)} parameter groups):',
                '  depth  lr_scale        lr  weight_decay  #params  parameters']
        for g in groups:
            rows.append(f'  {g["layer_depth"]:5d}  {g["lr_scale"]:8.4f}  {g["lr"]:.2e}  '
                        f'{g["weight_decay"]:12.3g}  {len(g["params"]):7d}  '
                        f'{", ".join(g["names"])}')
        return '\n'.join(rows)

