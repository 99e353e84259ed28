"""Report the effective batch and the learning rate a run really uses, and warn
when the batch is not the one the config states."""
import os.path as osp
import re
from typing import List, Optional, Tuple

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


#: ``8xb512`` in a config name: 8 GPUs x 512 images per GPU (OpenMMLab naming).
_NAMED_BATCH = re.compile(r'(?<![0-9a-z])(\d+)xb(\d+)(?![0-9])')


def named_batch(config_name: str) -> Optional[Tuple[int, int]]:
    """(GPUs, images per GPU) that a config's file name states, or None.

    ``'ummae_swin-tiny-w8_8xb512-amp-coslr-200e_in1k-256px.py'`` -> (8, 512);
    ``'htc++_swin-l-p4-w12_fpn_ms-400-1400-16xb1-3x_coco.py'`` -> (16, 1);
    ``'mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py'`` -> None (no batch in the name).
    """
    found = _NAMED_BATCH.search(osp.basename(config_name))
    return (int(found.group(1)), int(found.group(2))) if found else None


def stated_batch(cfg) -> Optional[Tuple[int, str]]:
    """The total batch a config states and where: its name (``16xb4`` -> 64), else
    its ``auto_scale_lr.base_batch_size`` (the batch its lr is for); None if neither."""
    named = named_batch(getattr(cfg, 'filename', None) or '')
    if named:
        gpus, per_gpu = named
        return gpus * per_gpu, f'{gpus}xb{per_gpu} in its name'
    base = (cfg.get('auto_scale_lr') or {}).get('base_batch_size') if cfg else None
    return (int(base), 'its auto_scale_lr.base_batch_size') if base else None


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
        mismatch = self.batch_mismatch(runner)
        if mismatch:
            runner.logger.warning(mismatch)

    @staticmethod
    def effective_batch(runner) -> int:
        """Processes x per-process batch x accumulation steps."""
        return (_batch_size(runner.train_dataloader) * runner.world_size
                * _accumulation_steps(runner.optim_wrapper))

    @staticmethod
    def batch_mismatch(runner) -> Optional[str]:
        """The warning when the effective batch differs from the one the config
        states (:func:`stated_batch`), else None."""
        stated = stated_batch(runner.cfg)
        total = TrainSetupReportHook.effective_batch(runner)
        if stated is None or stated[0] == total:
            return None
        batch, where = stated
        return (f'effective batch {total} ({runner.world_size} processes x '
                f'{_batch_size(runner.train_dataloader)} x '
                f'{_accumulation_steps(runner.optim_wrapper)} accumulation steps) differs '
                f'from the batch {batch} the config states ({where}): its lr and an '
                f'iteration-based schedule are for {batch} images per step, so the run '
                f'sees {total / batch:.3g}x the images per lr step. Launch with the '
                'stated number of GPUs (GPUS=...), or change train_dataloader.batch_size '
                '/ optim_wrapper.accumulative_counts to keep the product.')

    @staticmethod
    def report(runner) -> str:
        """The report line."""
        per_process = _batch_size(runner.train_dataloader)
        steps = _accumulation_steps(runner.optim_wrapper)
        total = TrainSetupReportHook.effective_batch(runner)
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
