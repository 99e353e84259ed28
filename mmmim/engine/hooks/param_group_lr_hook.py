"""The learning rate of every parameter group in the log (MMEngine logs the first)."""
from typing import Dict

from mmengine.hooks import Hook

from mmmim.registry import HOOKS


def group_lrs(optimizer) -> Dict[str, float]:
    """``{'lr_<label>': lr}``, one entry per distinct learning rate: groups with a
    ``layer_depth`` (layer-wise decay) as ``depth<d>``, others as ``group<i>`` with
    ``i`` the first group index of that lr; empty when every group has the same lr."""
    groups = list(getattr(optimizer, 'param_groups', []))
    if len({g['lr'] for g in groups}) < 2:
        return {}
    out: Dict[str, float] = {}
    seen = set()
    for i, group in enumerate(groups):
        lr = float(group['lr'])
        if 'layer_depth' in group:
            out.setdefault(f'lr_depth{group["layer_depth"]}', lr)
        elif lr not in seen:
            out[f'lr_group{i}'] = lr
        seen.add(lr)
    return out


@HOOKS.register_module()
class ParamGroupLrHook(Hook):
    """Put the parameter groups' learning rates (when they differ, e.g. under
    layer-wise decay; see :func:`group_lrs`) into the message hub as
    ``train/lr_depth<d>`` / ``train/lr_group<i>`` before every iteration, so the log
    lines and ``vis_data/scalars.json`` carry them next to MMEngine's ``lr`` (the
    first group's)."""

    priority = 'LOW'

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        optimizer = getattr(runner.optim_wrapper, 'optimizer', None)
        for key, lr in group_lrs(optimizer).items():
            runner.message_hub.update_scalar(f'train/{key}', lr)
