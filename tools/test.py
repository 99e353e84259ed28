"""Evaluate a trained model (detector, segmentor, classifier) with its config's test loop.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE] [--tta]
        [--cfg-options KEY=VALUE ...] [--launcher none|pytorch|slurm|mpi]

Several processes: ``bash tools/benchmarks/mmdetection/mim_dist_test.sh CONFIG
CHECKPOINT [args]`` (or ``mmsegmentation/``). mmmim's modules and shims are loaded
first, so configs that name them (MIMPretrained, our constructors, our backbones)
build under any default scope. The metrics are printed as one JSON line at the end
and written to ``--out`` when given. Without CUDA, distributed runs use gloo on the
CPU; GPUs that torch cannot use stop the run (``MMMIM_ALLOW_CPU=1`` allows the CPU).
On CUDA, fp32 matrix products may use TF32. ``num_workers='auto'`` is resolved as in
tools/train.py.

``--tta`` tests with test-time augmentation, as the OpenMMLab test tools: the model
becomes the config's ``tta_model`` (default: mmseg ``SegTTAModel``, mmdet
``DetTTAModel``, mmpretrain ``AverageClsScoreTTA``, by the config's scope) around
``model``, and the test data goes through ``tta_pipeline``. The ADE20K configs carry
the multi-scale + flip pipeline of the published "+MS" numbers (6 scales, each with
and without flip; docs/downstream_seg.md). A classifier without a
``tta_pipeline`` gets the test pipeline with and without a horizontal flip; any
other config without one stops with an error naming it.
"""
import argparse
import json
import os
import os.path as osp
import sys
from copy import deepcopy
from typing import List, Optional

from mmengine.config import Config, ConfigDict, DictAction
from train import (
    allow_tf32,
    build_runner,
    fail,
    load_config,
    resolve_num_workers,
    setup_cpu_distributed,
    stop_if_gpus_unusable,
)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description='Evaluate a trained model.')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint of the whole model (tools/train.py)')
    parser.add_argument('--work-dir', help='where the log goes (default: '
                        'work_dirs/<config name>)')
    parser.add_argument('--out', help='also write the metrics to this JSON file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
                        help='override config entries, e.g. test_dataloader.batch_size=2')
    parser.add_argument('--tta', action='store_true',
                        help="test-time augmentation: the config's tta_model around the "
                        "model, its tta_pipeline for the test data")
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='how the processes were started')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0,
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


TTA_MODELS = {'mmseg': dict(type='SegTTAModel'),
              'mmdet': dict(type='DetTTAModel',
                            tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.5),
                                         max_per_img=100)),
              'mmpretrain': dict(type='AverageClsScoreTTA'),
              'mmmim': dict(type='mmpretrain.AverageClsScoreTTA')}
CLASSIFIER_SCOPES = ('mmpretrain', 'mmmim')


def flip_tta_pipeline(test_pipeline: list) -> list:
    """A classifier's test pipeline with its last step (the packing) replaced by
    ``TestTimeAug`` over (flip, no flip) then that packing, as mmpretrain's test tool."""
    pipeline = deepcopy(test_pipeline)
    pipeline[-1] = dict(type='TestTimeAug', transforms=[
        [dict(type='RandomFlip', prob=1.), dict(type='RandomFlip', prob=0.)],
        [deepcopy(test_pipeline[-1])]])
    return pipeline


def use_tta(cfg: Config, config_path: str) -> None:
    """``cfg.model`` wrapped in the TTA model and the test data on ``tta_pipeline``
    (in place); stops naming ``config_path`` when neither the config nor its scope
    gives one."""
    scope = cfg.get('default_scope')
    pipeline = cfg.get('tta_pipeline')
    if pipeline is None and scope in CLASSIFIER_SCOPES:
        pipeline = flip_tta_pipeline(cfg.test_dataloader.dataset.pipeline)
    if pipeline is None:
        fail(f'--tta: {config_path} has no tta_pipeline (and none can be made for scope '
             f'{scope!r}); add one to the config, e.g. mmseg\'s '
             "_base_/datasets/ade20k.py's")
    tta_model = cfg.get('tta_model') or TTA_MODELS.get(scope)
    if tta_model is None:
        fail(f'--tta: {config_path} has no tta_model and scope {scope!r} has no default')
    cfg.model = ConfigDict(**tta_model, module=cfg.model)
    cfg.test_dataloader.dataset.pipeline = pipeline


def main(argv: Optional[List[str]] = None) -> dict:
    """Parse, configure, load the checkpoint, test; returns the metrics."""
    from mmpretrain.utils import register_all_modules
    args = parse_args(argv)
    stop_if_gpus_unusable()
    allow_tf32()
    register_all_modules(init_default_scope=False)
    if not osp.isfile(args.checkpoint) and '://' not in args.checkpoint:
        fail(f'checkpoint not found: {args.checkpoint}')
    cfg = load_config(args.config, args.cfg_options)
    cfg.launcher = args.launcher
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    cfg.resume = False
    if cfg.get('model', {}).get('init_cfg', {}).get('type') == 'MIMPretrained':
        cfg.model.init_cfg = None  # the trained checkpoint holds the backbone too
    if args.tta:
        use_tta(cfg, args.config)
    resolve_num_workers(cfg)
    setup_cpu_distributed(cfg)
    metrics = build_runner(cfg).test()
    line = json.dumps({k: float(v) if isinstance(v, (int, float)) else str(v)
                       for k, v in (metrics or {}).items()})
    print(f'metrics: {line}')
    if args.out:
        with open(args.out, 'w') as f:
            f.write(line + '\n')
    return metrics


if __name__ == '__main__':
    main()
    sys.exit(0)
