"""Downstream test harness (MMDetection and MMSegmentation configs alike).

- :func:`tiny_pretraining_checkpoint`: a raw mmmim pretraining checkpoint of a
  family (``'swin'``, ``'pvt'``, ``'vit'``), written by a real 2-iteration mmmim
  pretraining run (mmengine Runner, the family's shipped pretraining config with the
  tiny architecture of :data:`TINY_ARCHS`, the demo photographs);
- :func:`tiny_classifier_checkpoint`: the same encoder inside the family's fine-tune
  classifier (mmpretrain ``ImageClassifier``, ``backbone.*`` / ``head.*`` keys);
- :func:`run_downstream`: a downstream config with a tiny override, tiny data,
  ``IterBasedTrainLoop(max_iters=2)`` and an fp32 ``OptimWrapper``, run through
  mmengine's Runner: two training iterations and one evaluation pass. Returns the
  losses, the backbone's gradient norms, the metrics and the run's log.

The downstream tiny backbones must have the widths and depths of the tiny
pretraining encoders (:data:`TINY_ARCHS`): see ``tiny_detection.py`` beside this file.
"""
from __future__ import annotations

import copy
import logging
import math
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional

import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from threads import one_thread
from tiny_overrides import shrink

ROOT = Path(__file__).resolve().parents[2]

#: Tiny encoders shared by pretraining and downstream (``tiny_overrides``' sizes).
TINY_ARCHS = {
    'swin': dict(embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 2, 2, 4]),
    'pvt': dict(embed_dims=8, num_layers=[1, 1, 1, 1], num_heads=[1, 2, 2, 4]),
    'vit': dict(embed_dims=32, num_layers=4, num_heads=2, feedforward_channels=64),
}
TINY_ARCHS['localmim'] = TINY_ARCHS['vit']  # LocalMIM's ViT: same tiny encoder
#: The family's shipped pretraining config (tiny-shrunk by ``tests/tiny_overrides``).
PRETRAIN_CONFIGS = {
    'swin': 'configs/ummae/ummae_swin-tiny-w8_8xb512-amp-coslr-200e_in1k-256px.py',
    'pvt': 'configs/ummae/ummae_pvt-small_8xb512-amp-coslr-200e_in1k-256px.py',
    'vit': 'configs/mae/mae_vit-base-p16_8xb512-amp-coslr-400e_in1k.py',
    'localmim': 'configs/localmim/localmim_vit-base-p16_8xb256-amp-coslr-100e_in1k.py',
}
#: The family's fine-tune classifier config and its tiny backbone override.
CLASSIFIER_CONFIGS = {
    'swin': ('configs/benchmarks/classification/imagenet/'
             'swin-tiny-w16_8xb128-ft-ld0.85-coslr-100e_in1k-256px.py',
             dict(arch=TINY_ARCHS['swin'], img_size=128,
                  stage_cfgs=[dict(window_size=w) for w in (4, 4, 4, 4)])),
    'pvt': ('configs/benchmarks/classification/imagenet/'
            'pvt-small_8xb128-ft-ld0.85-coslr-100e_in1k-256px.py',
            dict(TINY_ARCHS['pvt'], pretrain_img_size=128)),
    'vit': ('configs/benchmarks/classification/imagenet/'
            'vit-base-p16_8xb128-ft-ld0.65-coslr-100e_in1k.py',
            dict(arch=TINY_ARCHS['vit'], img_size=64)),
}


def _fp32(optim_wrapper: dict) -> None:
    """Amp wrappers need a GPU: the same wrapper family without mixed precision."""
    kind = str(optim_wrapper.get('type', 'OptimWrapper'))
    if 'Amp' in kind:
        optim_wrapper['type'] = kind.replace('Amp', '')
        for key in ('dtype', 'loss_scale'):
            optim_wrapper.pop(key, None)


def tiny_pretraining_checkpoint(family: str, demo_images: Path, work_dir: Path,
                                iters: int = 2) -> Path:
    """Run ``iters`` iterations of the family's pretraining config, tiny, on the demo
    photographs (batch 4) and return the checkpoint the Runner wrote (raw mmmim
    layout: ``state_dict`` with ``encoder.*``, ``decoder.*``, ...)."""
    from mmengine.runner import Runner

    import mmmim.engine  # noqa: F401
    cfg = Config.fromfile(str(ROOT / PRETRAIN_CONFIGS[family]))
    model = cfg.model.to_dict()
    sizes: list = []
    shrink(model, sizes)
    size = sizes[0] if sizes else 64
    arch = model['encoder'].get('arch', model['encoder'])
    if any(arch.get(k) != v for k, v in TINY_ARCHS[family].items()):
        raise AssertionError(f'tests/tiny_overrides no longer give the tiny {family} of '
                             f'TINY_ARCHS: {model["encoder"]}')
    cfg.model = model
    cfg.train_dataloader.update(batch_size=4, num_workers=0, persistent_workers=False)
    cfg.train_dataloader.dataset.update(data_root=str(demo_images), data_prefix='',
                                        ann_file='')
    cfg.train_dataloader.dataset.pipeline = [
        dict(type='LoadImageSafely'), dict(type='Resize', scale=(size, size)),
        dict(type='PackInputs')]
    _fp32(cfg.optim_wrapper)
    cfg.param_scheduler = None
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=iters, by_epoch=False)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.custom_hooks = []
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = f'tiny_{family}_{uuid.uuid4().hex[:8]}'
    cfg.env_cfg = dict(mp_cfg=dict(mp_start_method='fork'), dist_cfg=dict(backend='gloo'))
    Runner.from_cfg(cfg).train()
    return Path(work_dir) / f'iter_{iters}.pth'


def tiny_classifier_checkpoint(family: str, pretrained: Path, path: Path) -> Path:
    """The family's fine-tune classifier (tiny) initialized from ``pretrained``
    through MIMPretrained and saved as mmpretrain does (``state_dict`` with
    ``backbone.*``, ``head.*``, ``data_preprocessor.*`` keys)."""
    from mmengine.registry import init_default_scope

    import mmmim.converters  # noqa: F401
    from mmmim.registry import MODELS
    config, override = CLASSIFIER_CONFIGS[family]
    cfg = Config.fromfile(str(ROOT / config))
    model = cfg.model.to_dict()
    model['backbone'].update(copy.deepcopy(override))
    model['init_cfg']['checkpoint'] = str(pretrained)
    init_default_scope(cfg.get('default_scope', 'mmmim'))
    classifier = MODELS.build(model)
    classifier.init_weights()
    torch.save({'state_dict': classifier.state_dict(), 'meta': {'tiny_classifier': family}},
               path)
    return path


@contextmanager
def captured_log() -> Iterator[List[str]]:
    """Messages of mmengine's current logger inside the block (e.g. load reports
    of a model built and initialized there), as a list filled while it runs."""
    from mmengine.logging import MMLogger

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    messages: List[str] = []
    logger = MMLogger.get_current_instance()
    handler = _Collect(level=logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)


# ---------------------------------------------------------------- downstream runs

def scale_sizes(node, factor: float) -> None:
    """Multiply every image size in a pipeline (``scale``, ``scales``, ``img_scale``,
    ``crop_size``, ``size`` of padding) by ``factor``, in place, recursively."""
    keys = ('scale', 'scales', 'img_scale', 'crop_size', 'size')
    if isinstance(node, dict):
        for key, value in node.items():
            if key in keys and not isinstance(value, (str, dict)) and value is not None:
                node[key] = _scaled(value, factor)
            else:
                scale_sizes(value, factor)
    elif isinstance(node, list):
        for value in node:
            scale_sizes(value, factor)


def _scaled(value, factor: float):
    if isinstance(value, (list, tuple)):
        return type(value)(_scaled(v, factor) for v in value)
    if isinstance(value, bool) or not isinstance(value, int):  # ratios, not pixels
        return value
    return max(1, round(value * factor))


class RunRecorder(Hook):
    """Records the training losses per iteration, the norm of every backbone
    gradient (through tensor hooks, before the optimizer zeroes them) and the
    evaluation metrics."""

    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self.losses: List[Dict[str, float]] = []
        self.grad_norms: List[Dict[str, float]] = []
        self.metrics: Dict[str, float] = {}

    def before_train(self, runner) -> None:
        model = getattr(runner.model, 'module', runner.model)
        for name, param in model.backbone.named_parameters():
            if param.requires_grad:
                param.register_hook(lambda grad, name=name: self._record(name, grad))

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        self.grad_norms.append({})

    def _record(self, name: str, grad: torch.Tensor) -> None:
        self.grad_norms[-1][name] = float(grad.detach().norm())

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self.losses.append({k: float(v) for k, v in (outputs or {}).items()})

    def after_val_epoch(self, runner, metrics=None) -> None:
        self.metrics.update(metrics or {})


@dataclass
class DownstreamRun:
    """What :func:`run_downstream` saw."""
    losses: List[Dict[str, float]]
    grad_norms: List[Dict[str, float]]
    metrics: Dict[str, float]
    log: str
    model: torch.nn.Module = field(repr=False)

    def finite_losses(self) -> bool:
        return bool(self.losses) and all(math.isfinite(v) for it in self.losses
                                         for v in it.values())

    def backbone_grads_finite_and_nonzero(self) -> bool:
        norms = [v for it in self.grad_norms for v in it.values()]
        return bool(norms) and all(math.isfinite(v) for v in norms) and any(
            v > 0 for v in norms)


def apply_data(cfg: Config, dataset: dict, evaluator: dict, batch_size: int) -> None:
    """Point every dataloader at the tiny data (``dataset`` merged into its dataset,
    e.g. ``data_root`` and ``metainfo``) and every evaluator at ``evaluator``
    (e.g. ``ann_file``); no worker processes."""
    for split in ('train', 'val', 'test'):
        loader = cfg.get(f'{split}_dataloader')
        if loader:
            loader.update(num_workers=0, persistent_workers=False,
                          batch_size=batch_size if split == 'train' else 1)
            target = loader.dataset
            while 'dataset' in target and 'pipeline' not in target:  # wrappers
                target = target.dataset
            target.update(copy.deepcopy(dataset))
        metric = cfg.get(f'{split}_evaluator')
        for one in (metric if isinstance(metric, list) else [metric] if metric else []):
            one.update(copy.deepcopy(evaluator))


def tiny_downstream_cfg(config: Path, checkpoint: Path, work_dir: Path,
                        model_override: Callable[[dict], None], dataset: dict,
                        evaluator: dict, size_factor: float = 0.1, iters: int = 2,
                        batch_size: int = 2, save_checkpoint: bool = False,
                        options: Optional[dict] = None) -> Config:
    """The downstream config made tiny and short (see the module docstring).

    Args:
        config: the shipped downstream config.
        checkpoint: goes to ``model.init_cfg.checkpoint`` (MIMPretrained).
        model_override: shrinks ``cfg.model`` in place (tiny backbone, heads).
        dataset / evaluator: merged into every dataset / evaluator.
        size_factor: multiplies every pipeline image size.
        save_checkpoint: write ``iter_<iters>.pth`` at the end (else no checkpoint).
        options: more ``--cfg-options``-style entries merged last.
    """
    cfg = Config.fromfile(str(config))
    model = cfg.model.to_dict()
    model_override(model)
    model['init_cfg']['checkpoint'] = str(checkpoint)
    cfg.model = model
    apply_data(cfg, dataset, evaluator, batch_size)
    for split in ('train', 'val', 'test'):
        if cfg.get(f'{split}_dataloader'):
            scale_sizes(cfg[f'{split}_dataloader'].dataset, size_factor)
    scale_sizes(cfg.model.get('data_preprocessor', {}), size_factor)
    _fp32(cfg.optim_wrapper)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters, val_interval=iters)
    cfg.param_scheduler = [s for s in (cfg.get('param_scheduler') or [])
                           if not s.get('by_epoch', True)]
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=iters,
                                        by_epoch=False) if save_checkpoint else None
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = f'tiny_{Path(config).stem[:40]}_{uuid.uuid4().hex[:8]}'
    cfg.env_cfg = dict(mp_cfg=dict(mp_start_method='fork'), dist_cfg=dict(backend='gloo'),
                       cudnn_benchmark=False)
    cfg.randomness = dict(seed=0)
    if options:
        cfg.merge_from_dict(options)
    return cfg


def run_downstream(cfg: Config) -> DownstreamRun:
    """Two training iterations and one evaluation pass of ``cfg`` through
    mmengine's Runner (on one thread, as the other engine tests)."""
    from mmengine.runner import Runner

    import mmmim.converters  # noqa: F401
    import mmmim.engine  # noqa: F401
    recorder = RunRecorder()
    runner = Runner.from_cfg(cfg)
    runner.register_hook(recorder)
    with one_thread():
        runner.train()
    log = Path(runner.log_dir, f'{runner.timestamp}.log').read_text()
    return DownstreamRun(recorder.losses, recorder.grad_norms, recorder.metrics, log,
                         runner.model)
