"""Layer-wise learning-rate decay for ViT, Swin and PVT backbones (fine-tuning).

A parameter at depth ``d`` out of ``D`` gets ``lr * rate ** (D - d)``: the stem
(patch embedding, tokens, absolute positions) is depth 0, every transformer block
counts one, and everything after the backbone's blocks (final norms, neck, head)
is depth ``D`` (full learning rate). Pyramids are stage-aware: blocks are counted
across stages, and the layers that end a stage (Swin's patch merging, a PVT stage's
norm, the next stage's patch embedding and positions) share the depth of that
stage's last block (SimMIM / UM-MAE convention).

Weight decay is 0 for 1-D parameters (norms, biases) and for position embeddings,
class / mask tokens and relative position bias tables.

The groups (depth, lr scale, weight decay, parameter count, first names) are logged
once as a table when the optimizer is built; the scheduler scales every group by the
same factor, so a group's lr at any step is its ``lr_scale`` times the logged ``lr``
of the top group (mmengine logs the first group's lr; groups are ordered top first).
"""
import re
from typing import Callable, Dict, List, Tuple

from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as ROOT_CONSTRUCTORS
from torch import nn

from mmmim.registry import OPTIM_WRAPPER_CONSTRUCTORS

NO_DECAY = ('pos_embed', 'cls_token', 'mask_token', 'secondary_token',
            'relative_position_bias_table', 'absolute_pos_embed')
DepthFn = Callable[[str], int]


def _cumulative(depths: List[int]) -> List[int]:
    out = [0]
    for d in depths:
        out.append(out[-1] + d)
    return out


def vit_depths(backbone: nn.Module) -> Tuple[DepthFn, int]:
    """mm-layout ViT: ``layers.i`` -> i + 1; stem -> 0; the rest -> N + 1."""
    top = len(backbone.layers) + 1

    def depth(name: str) -> int:
        if name.startswith(('patch_embed', 'cls_token', 'pos_embed', 'pre_norm')):
            return 0
        block = re.match(r'layers\.(\d+)\.', name)
        return int(block.group(1)) + 1 if block else top
    return depth, top


def swin_depths(backbone: nn.Module) -> Tuple[DepthFn, int]:
    """mmpretrain Swin: ``stages.s.blocks.b`` -> cum[s] + b + 1; ``stages.s.downsample``
    (patch merging ending stage s) -> cum[s + 1]; stem -> 0; the rest -> top."""
    cum = _cumulative([len(stage.blocks) for stage in backbone.stages])
    top = cum[-1] + 1

    def depth(name: str) -> int:
        if name.startswith(('patch_embed', 'absolute_pos_embed', 'mask_token')):
            return 0
        block = re.match(r'stages\.(\d+)\.blocks\.(\d+)\.', name)
        if block:
            return cum[int(block.group(1))] + int(block.group(2)) + 1
        merge = re.match(r'stages\.(\d+)\.downsample\.', name)
        return cum[int(merge.group(1)) + 1] if merge else top
    return depth, top


def pvt_depths(backbone: nn.Module) -> Tuple[DepthFn, int]:
    """mmdet PVT: ``layers.i.1.j`` (j >= 1, block j - 1) -> cum[i] + j; a stage's
    patch embedding ``layers.i.0`` and positions ``layers.i.1.0`` -> cum[i] (the
    depth of the previous stage's last block; 0 for the stem); stage norm
    ``layers.i.2`` -> cum[i + 1]; the rest -> top."""
    cum = _cumulative([len(stage[1]) - 1 for stage in backbone.layers])
    top = cum[-1] + 1

    def depth(name: str) -> int:
        if name.startswith(('mask_token', 'secondary_token')):
            return 0
        part = re.match(r'layers\.(\d+)\.(\d+)\.(?:(\d+)\.)?', name)
        if not part:
            return top
        stage, kind, index = int(part.group(1)), int(part.group(2)), part.group(3)
        if kind == 0 or (kind == 1 and index == '0'):
            return cum[stage]
        return cum[stage] + int(index) if kind == 1 else cum[stage + 1]
    return depth, top


def backbone_depths(backbone: nn.Module) -> Tuple[DepthFn, int]:
    """Pick the depth function from the backbone's structure."""
    if hasattr(backbone, 'stages') and hasattr(backbone.stages[0], 'blocks'):
        return swin_depths(backbone)
    layers = getattr(backbone, 'layers', None)
    if layers is not None and isinstance(layers[0], nn.ModuleList) and len(layers[0]) == 3:
        return pvt_depths(backbone)
    if layers is not None and hasattr(backbone, 'patch_embed'):
        return vit_depths(backbone)
    raise TypeError(f'no layer-wise decay rule for {type(backbone).__name__}')


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Optimizer wrapper constructor with layer-wise lr decay.

    ``paramwise_cfg``: ``layer_decay_rate`` (e.g. 0.65 MAE / PixMIM ViT-B, 0.8 UM-MAE
    ViT-B, 0.85 PVT-S / Swin-T, 0.7 Swin-L) and optionally ``no_decay_names``
    (substrings of parameters without weight decay, besides all 1-D ones).
    The backbone is ``model.backbone`` (or the model itself).
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: dict = None) -> None:
        paramwise_cfg = dict(paramwise_cfg or {})
        self.layer_decay_rate = float(paramwise_cfg.pop('layer_decay_rate', 1.0))
        self.no_decay_names = tuple(paramwise_cfg.pop('no_decay_names', NO_DECAY))
        if paramwise_cfg:
            raise ValueError(f'unsupported paramwise_cfg keys: {sorted(paramwise_cfg)}')
        super().__init__(optim_wrapper_cfg, None)
        # non-empty, so that the base __call__ builds groups through add_params
        self.paramwise_cfg = dict(layer_decay_rate=self.layer_decay_rate)

    def add_params(self, params: List[dict], module: nn.Module, **kwargs) -> None:
        backbone = getattr(module, 'backbone', module)
        prefix = 'backbone.' if backbone is not module else ''
        depth_of, top = backbone_depths(backbone)
        groups: Dict[Tuple[int, bool], dict] = {}
        for name, param in module.named_parameters():
            if not param.requires_grad:
                continue
            depth = depth_of(name[len(prefix):]) if name.startswith(prefix) else top
            decay = param.ndim > 1 and not any(k in name for k in self.no_decay_names)
            scale = self.layer_decay_rate ** (top - depth)
            group = groups.setdefault((depth, decay), dict(
                params=[], names=[], layer_depth=depth, lr_scale=scale,
                lr=self.base_lr * scale,
                weight_decay=self.base_wd if decay and self.base_wd else 0.))
            group['params'].append(param)
            group['names'].append(name)
        ordered = sorted(groups.items(), key=lambda kv: (-kv[0][0], not kv[0][1]))
        params.extend(group for _, group in ordered)
        print_log(self.table([g for _, g in ordered], top), logger='current')

    def table(self, groups: List[dict], top: int) -> str:
        rows = [f'layer-wise lr decay {self.layer_decay_rate} over depth 0..{top} '
                f'(base lr {self.base_lr}):',
                '  depth  lr_scale       lr  weight_decay  #params  first parameter']
        for g in groups:
            rows.append(f'  {g["layer_depth"]:5d}  {g["lr_scale"]:8.4f}  {g["lr"]:.2e}  '
                        f'{g["weight_decay"]:12.3g}  {len(g["params"]):7d}  '
                        f'{g["names"][0]}')
        return '\n'.join(rows)


# mmdet / mmseg configs build their optimizer constructor from their own registry
# (a child of mmengine's root), which does not see mmmim's (a grandchild through
# mmpretrain's). Registering it in the root too lets those configs name it by plain
# name: constructor='LayerDecayOptimWrapperConstructor'.
if 'LayerDecayOptimWrapperConstructor' not in ROOT_CONSTRUCTORS.module_dict:
    ROOT_CONSTRUCTORS.register_module(module=LayerDecayOptimWrapperConstructor)
