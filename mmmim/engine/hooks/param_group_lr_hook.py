"""The learning rate of every parameter group in the log (MMEngine logs the first)."""
from typing import Dict

from mmmim.registry import HOOKS
from mmengine.hooks import Hook


def group_lrs(optimizer) -> Dict[str, float]:
    """``{'lr_<label>': lr}`` with one entry per distinct group label: the group's
    ``layer_depth`` (layer-wise decay) as ``depth<d>``, else its index as
    ``group<i>``; empty when every group has the same lr."""
    groups = list(getattr(optimizer, 'param_groups', []))
    if len({g['lr'] for g in groups}) < 2:
        return {}
    out = {}
    for i, group in enumerate(groups):
        label = f'depth{group["layer_depth"]}' if 'layer_depth' in group else f'group{i}'
        out.setdefault(f'lr_{label}', float(group['lr']))
    return out


@HOOKS.register_module()
class ParamGroupLrHook(Hook):
    """Put each parameter group's lr (when the groups' lrs differ, e.g. layer-wise
    decay) into the message hub as ``train/lr_depth<d>`` / ``train/lr_group<i>``
    before every iteration, so the log lines and ``vis_data/scalars.json`` carry
    them (next to MMEngine's ``lr``, the first group's)."""

    priority = 'LOW'

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        optimizer = getattr(runner.optim_wrapper, 'optimizer', None)
        for key, lr in group_lrs(optimizer).items():
            runner.message_hub.update_scalar(f'train/{key}', lr)
