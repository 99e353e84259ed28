"""Report the effective batch and the learning rate a run really uses."""
from typing import List, Optional

from mmengine.hooks import Hook

from mmmim.registry import HOOKS


def _accumulation_steps(optim_wrapper) -> int:
    return int(getattr(optim_wrapper, '_accumulative_counts', 1))


def _batch_size(dataloader) -> int:
    """Per-process batch, also with a batch sampler (mmdet's AspectRatioBatchSampler
    leaves ``DataLoader.batch_size`` None)."""
    if dataloader.batch_size is not None:
        return int(dataloader.batch_size)
    return int(dataloader.batch_sampler.batch_size)


def _param_groups(optim_wrapper) -> List[dict]:
    optimizer = getattr(optim_wrapper, 'optimizer', None)
    return list(getattr(optimizer, 'param_groups', []))


def _config_lr(cfg) -> Optional[float]:
    try:
        return float(cfg['optim_wrapper']['optimizer']['lr'])
    except (KeyError, TypeError):
        return None


@HOOKS.register_module()
class TrainSetupReportHook(Hook):
    """Log, before the first iteration, the effective batch
    (per-process batch x processes x accumulation steps) and the learning rate
    after auto-scaling (each param group's ``initial_lr``), next to the config's lr
    and the lr of the next iteration (warm-up or schedule applied).
    """

    priority = 'VERY_LOW'

    def before_train(self, runner) -> None:
        runner.logger.info(self.report(runner))

    @staticmethod
    def report(runner) -> str:
        """The report line."""
        per_process = _batch_size(runner.train_dataloader)
        steps = _accumulation_steps(runner.optim_wrapper)
        total = per_process * runner.world_size * steps
        lines = [f'effective batch {total} = {per_process} per process x '
                 f'{runner.world_size} processes x {steps} accumulation steps']
        groups = _param_groups(runner.optim_wrapper)
        if not groups:
            return lines[0]
        base = max(g.get('initial_lr', g['lr']) for g in groups)
        now = max(g['lr'] for g in groups)
        cfg_lr = _config_lr(runner.cfg)
        scaled = (runner.auto_scale_lr or {}).get('enable', False)
        source = ('as in the config (--auto-scale-lr would scale it with the effective '
                  'batch)')
        if scaled and cfg_lr:
            source = f'auto-scaled x{base / cfg_lr:.4g} from the config lr {cfg_lr:.6g}'
        lines.append(f'learning rate {base:.6g}, {source}')
        lines.append(f'lr of the next iteration {now:.6g} (schedule applied)')
        return '; '.join(lines)
