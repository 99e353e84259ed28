"""HTC++ configs (configs/benchmarks/mmdetection/coco/htc++*):

- tiny (tiny Swin of the pretraining run, 32-channel FPN and heads, ~96-px images,
  tiny COCO data with COCO-stuff-style maps): built from a tiny mmmim Swin
  pretraining checkpoint (window 4, so every bias table is resized to the config's
  window 7 or 12), the load report says the backbone loaded, two training iterations
  give finite losses (the semantic loss where the branch is on) and finite non-zero
  gradients in every backbone parameter, and one evaluation pass computes COCO bbox
  and segm AP through mmcv's compiled soft-NMS;
- 3x / 6x and with / without InstaBoost configs are otherwise equal, so one tiny run
  stands for them; InstaBoost (the configs' step, instaboostfast on today's numpy /
  opencv) really moves the instances, and the InstaBoost configs' training data loader
  gives batches with masks and stuff maps;
- full size (no override, no training): every config builds and its
  ``model.init_cfg`` (MIMPretrained) loads a full-size mmmim Swin-B / Swin-L
  pretraining encoder with every backbone tensor matched.
"""
import contextlib
import copy
import importlib
import math
import re
from functools import lru_cache
from pathlib import Path
from typing import Iterator
from unittest import mock

import numpy as np
import pytest
import torch
from harness import ROOT, TINY_ARCHS, run_downstream
from mmengine.config import Config
from mmengine.registry import init_default_scope
from tiny_detection import tiny_coco_cfg, tiny_detector

from mmmim.converters import get_converter
from mmmim.converters.initializer import converter_kwargs

CONFIG_DIR = ROOT / 'configs/benchmarks/mmdetection/coco'
HTC = sorted(CONFIG_DIR.glob('htc++*.py'))
TRAIN_SCALES = [(96, 64), (96, 96)]     # short side 64-96 px, long side <= 96 px
TEST_SCALE = (96, 96)
SCHEDULE_KEYS = ('max_epochs', 'train_cfg', 'param_scheduler')


@lru_cache(maxsize=None)
def _parsed(config: Path) -> dict:
    return Config.fromfile(str(config)).to_dict()


def load(config: Path) -> Config:
    """The config, parsed once per session (a fresh copy each call)."""
    return Config(copy.deepcopy(_parsed(config)))


def group_by(configs, part) -> list:
    """Configs grouped by equal ``part(config dict)``, in order."""
    groups = []
    for config in configs:
        value = part(_parsed(config))
        for group in groups:
            if group[0] == value:
                group[1].append(config)
                break
        else:
            groups.append((value, [config]))
    return [members for _, members in groups]


def test_htc_configs__all_shipped():
    schedules = ('ms-400-1400-16xb1-3x', 'ms-400-1400-16xb1-6x')
    expected = {f'htc++_{arch}_fpn_{s}_coco.py' for arch in ('swin-b-p4-w7', 'swin-l-p4-w12')
                for s in schedules}
    expected |= {f'htc++-without-semantic_{arch}_fpn_ms-400-1400-16xb1-3x_coco.py'
                 for arch in ('swin-b-p4-w7', 'swin-l-p4-w12')}
    expected |= {'htc++_swin-b-p4-w7_fpn_instaboost-ms-400-1400-16xb1-6x_coco.py',
                 'htc++_swin-l-p4-w12_fpn_instaboost-ms-400-1400-16xb1-3x_coco.py',
                 'htc++_swin-l-p4-w12_fpn_instaboost-ms-400-1400-16xb1-6x_coco.py'}
    assert {p.name for p in HTC} == expected


@pytest.mark.parametrize('config', HTC, ids=[p.stem for p in HTC])
def test_htc_config__states_the_htc_plus_plus_items(config):
    cfg = load(config)
    model = cfg.model
    assert model.type == 'HybridTaskCascade'
    assert model.backbone.convert_weights is False and model.backbone.init_cfg is None
    assert model.init_cfg == dict(type='MIMPretrained', checkpoint=None, submodule='backbone')
    assert model.neck.type == 'mmmim.GlobalAttentionFPN'
    assert model.neck.fpn.in_channels[-1] == model.backbone.embed_dims * 8
    assert model.neck.num_heads == model.backbone.num_heads[-1]
    assert {h.type for h in model.roi_head.bbox_head} == {'Shared4Conv1FCBBoxHead'}
    nms = (model.train_cfg.rpn_proposal.nms, model.test_cfg.rpn.nms, model.test_cfg.rcnn.nms)
    assert [n.type for n in nms] == ['soft_nms'] * 3
    assert [n.iou_threshold for n in nms] == [0.7, 0.7, 0.5]
    steps = [s.type for s in cfg.train_dataloader.dataset.pipeline]
    resize = cfg.train_dataloader.dataset.pipeline[steps.index('RandomResize')]
    assert resize.scale == [(1600, 400), (1600, 1400)] and resize.keep_ratio
    assert ('InstaBoost' in steps) == ('instaboost' in config.name)
    if 'InstaBoost' in steps:
        assert steps.index('InstaBoost') < steps.index('LoadAnnotations')
    semantic = 'without-semantic' not in config.name
    assert (model.roi_head.semantic_head is not None) == semantic
    assert model.data_preprocessor.pad_seg == semantic
    assert ('seg' in cfg.train_dataloader.dataset.data_prefix) == semantic
    epochs, steps_at = (72, [63, 69]) if '-6x_' in config.name else (36, [27, 33])
    assert cfg.train_cfg.max_epochs == epochs
    assert cfg.param_scheduler[1].milestones == steps_at
    assert cfg.param_scheduler[0].end == 500 and not cfg.param_scheduler[0].by_epoch
    assert cfg.optim_wrapper.optimizer == dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999),
                                               weight_decay=0.05)
    assert cfg.train_dataloader.batch_size == 1 and cfg.auto_scale_lr.base_batch_size == 16
    window, drop_path = (12, 0.3) if '_swin-l-' in config.name else (7, 0.3)
    assert model.backbone.window_size == window
    assert model.backbone.drop_path_rate == drop_path == model.neck.drop_path_rate


# ------------------------------------------------------------------------ tiny

def tiny_htc(model: dict) -> None:
    """tiny_detection.py's detector override, with the FPN inside GlobalAttentionFPN."""
    neck = model['neck']
    model['neck'] = neck['fpn']
    tiny_detector(model)
    model['neck'] = dict(neck, fpn=model['neck'], num_heads=TINY_ARCHS['swin']['num_heads'][-1])


def tiny_cfg(config: Path, checkpoint: Path, data: Path, work_dir: Path) -> Config:
    cfg = tiny_coco_cfg(config, checkpoint, data, work_dir, model_override=tiny_htc)
    for step in cfg.train_dataloader.dataset.pipeline:
        if step.type == 'RandomResize':
            step.scale = TRAIN_SCALES
        if step.type == 'InstaBoost':
            step.aug_ratio = 1.0                    # every image, so that it surely runs
    for step in cfg.val_dataloader.dataset.pipeline + cfg.test_dataloader.dataset.pipeline:
        if step.type == 'Resize':
            step.scale = TEST_SCALE
    return cfg


def without_schedule_and_instaboost(cfg: dict) -> dict:
    """The config without its epoch schedule (a 2-iteration run replaces it) and
    without the InstaBoost step (run through the data loader on its own)."""
    out = {k: v for k, v in cfg.items() if k not in SCHEDULE_KEYS + ('train_pipeline',)}
    loader = copy.deepcopy(out['train_dataloader'])
    loader['dataset']['pipeline'] = [step for step in loader['dataset']['pipeline']
                                     if step['type'] != 'InstaBoost']
    return dict(out, train_dataloader=loader)


# One tiny run per group of configs equal but for the schedule and InstaBoost, run
# on the member without InstaBoost.
TINY_GROUPS = [sorted(group, key=lambda c: 'instaboost' in c.name)
               for group in group_by(HTC, without_schedule_and_instaboost)]


def test_tiny_runs__cover_every_config_and_merge_only_schedules_and_instaboost():
    assert sorted(c for group in TINY_GROUPS for c in group) == HTC
    for group in TINY_GROUPS:
        assert 'instaboost' not in group[0].name
        names = {c.name.replace('instaboost-', '').replace('-6x_', '-3x_') for c in group}
        assert len(names) == 1, group
    assert len(TINY_GROUPS) == 4


@pytest.fixture
def soft_nms_calls(monkeypatch):
    """Counts calls of mmcv's compiled soft-NMS (mmcv's batched_nms looks the op up
    by name in mmcv.ops.nms at call time)."""
    nms_module = importlib.import_module('mmcv.ops.nms')  # the attribute is the function
    real, calls = nms_module.soft_nms, []

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)
    monkeypatch.setattr(nms_module, 'soft_nms', counting)
    return calls


@pytest.mark.parametrize('group', TINY_GROUPS, ids=[g[0].stem for g in TINY_GROUPS])
def test_htc__tiny_loads_trains_two_iters_and_computes_coco_ap_with_soft_nms(
        group, tiny_coco, pretraining_checkpoint, soft_nms_calls, tmp_path):
    config = group[0]
    run = run_downstream(tiny_cfg(config, pretraining_checkpoint('swin'), tiny_coco,
                                  tmp_path))
    assert '[swin->mmdet] load report into SwinTransformer' in run.log
    assert 'mmmim pretraining checkpoint (encoder.*)' in run.log
    assert 'status: OK, backbone fully loaded' in run.log
    window = run.model.backbone.stages[0].blocks[0].attn.w_msa.window_size[0]
    assert f'-> ({(2 * window - 1) ** 2}, ' in run.log      # window-4 tables resized
    assert 'layer-wise lr decay 1.0' in run.log
    assert len(run.losses) == 2 and run.finite_losses(), run.losses
    expected = {'loss_rpn_cls', 'loss_rpn_bbox', 's0.loss_cls', 's2.loss_bbox', 's2.loss_mask'}
    if 'without-semantic' not in config.name:
        expected.add('loss_semantic_seg')
    assert expected <= set(run.losses[0]), sorted(run.losses[0])
    assert ('loss_semantic_seg' in run.losses[0]) == ('without-semantic' not in config.name)
    n_backbone = sum(p.requires_grad for p in run.model.backbone.parameters())
    assert all(len(g) == n_backbone for g in run.grad_norms)
    assert run.backbone_grads_finite_and_nonzero()
    assert soft_nms_calls, 'soft-NMS never ran'
    for metric in ('coco/bbox_mAP', 'coco/segm_mAP', 'coco/bbox_mAP_50', 'coco/segm_mAP_50'):
        assert metric in run.metrics and 0 <= run.metrics[metric] <= 1, run.metrics
        assert not math.isnan(run.metrics[metric])


def test_instaboost_step__moves_every_images_instances(tiny_coco):
    """The configs' InstaBoost step (geometry only, every image) on the tiny COCO
    training images: instaboostfast 0.1.2 runs on today's numpy / opencv and moves
    instances (it falls back to the input, silently, when it fails inside)."""
    from mmdet.registry import DATASETS, TRANSFORMS
    init_default_scope('mmdet')
    instaboost = load(next(c for c in HTC if 'instaboost' in c.name)).instaboost
    step = TRANSFORMS.build(dict(instaboost, aug_ratio=1.0, color_prob=0.0))
    from mimbench.tiny_data.coco import TINY_COCO_METAINFO
    dataset = DATASETS.build(dict(
        type='CocoDataset', data_root=f'{tiny_coco}/', metainfo=TINY_COCO_METAINFO,
        ann_file='annotations/instances_train2017.json', data_prefix=dict(img='train2017/'),
        pipeline=[dict(type='LoadImageFromFile')]))
    np.random.seed(0)
    moved = 0
    for i in range(len(dataset)):
        results = dataset[i]
        boxes = np.array([inst['bbox'] for inst in results['instances']])
        image = results['img'].copy()
        out = step.transform(copy.deepcopy(results))
        new_boxes = np.array([inst['bbox'] for inst in out['instances']])
        assert out['img'].shape == image.shape
        moved += int(new_boxes.shape != boxes.shape or np.abs(new_boxes - boxes).max() > 0.5)
    assert moved == len(dataset), f'{moved} of {len(dataset)} images changed'


INSTABOOST_PIPELINES = group_by([c for c in HTC if 'instaboost' in c.name],
                                lambda cfg: cfg['train_dataloader']['dataset']['pipeline'])


@pytest.mark.parametrize('group', INSTABOOST_PIPELINES,
                         ids=[g[0].stem for g in INSTABOOST_PIPELINES])
def test_instaboost_configs__train_loader_gives_batches_with_masks_and_stuff_maps(
        group, tiny_coco, tmp_path):
    """The InstaBoost configs' training data (InstaBoost on every image, then the
    configs' loading, multi-scale resize, flip, packing) on the tiny COCO data."""
    from mmengine.runner import Runner
    cfg = tiny_cfg(group[0], Path('unused.pth'), tiny_coco, tmp_path)
    init_default_scope('mmdet')
    np.random.seed(0)
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
    assert any(step.type == 'InstaBoost' for step in cfg.train_dataloader.dataset.pipeline)
    for _, batch in zip(range(2), loader):
        for image, sample in zip(batch['inputs'], batch['data_samples']):
            assert 64 <= min(image.shape[1:]) and max(image.shape[1:]) <= 96, image.shape
            boxes, masks = sample.gt_instances.bboxes, sample.gt_instances.masks
            assert len(boxes) == len(masks) > 0
            assert sample.gt_sem_seg.sem_seg.shape[-2:] == image.shape[1:]


# ------------------------------------------------------------------- full size

FULL_ENCODERS = {  # arch in the config name -> pretraining config of that encoder
    'swin-b': 'configs/simmim/simmim_swin-base-w6_8xb256-amp-coslr-100e_in1k-192px.py',
    'swin-l': 'configs/ummae/ummae_swin-large-w8_8xb512-amp-coslr-800e_in1k-256px.py',
}


@contextlib.contextmanager
def no_random_init() -> Iterator[None]:
    """Modules built inside skip PyTorch's parameter init (torch.nn.init's fills are
    no-ops): full-size models get their shapes without paying for ~300 M random draws
    their values are overwritten (encoder) or loaded (backbone) anyway."""
    fills = ('kaiming_uniform_', 'kaiming_normal_', 'uniform_', 'normal_', 'trunc_normal_',
             'xavier_uniform_', 'xavier_normal_', 'zeros_', 'ones_', 'constant_')
    with contextlib.ExitStack() as stack:
        for name in fills:
            stack.enter_context(mock.patch.object(torch.nn.init, name,
                                                  lambda tensor, *a, **k: tensor))
        yield


def full_size_encoder_state(arch: str) -> dict:
    """Every floating-point tensor of the full-size encoder of our pretraining config,
    drawn at random (so that norms and biases differ from any fresh init)."""
    import mmmim.models  # noqa: F401
    from mmmim.registry import MODELS
    init_default_scope('mmmim')
    with no_random_init():
        encoder = MODELS.build(Config.fromfile(str(ROOT / FULL_ENCODERS[arch])).model.encoder)
    generator = torch.Generator().manual_seed(0)
    return {k: torch.randn(v.shape, generator=generator) * 0.02
            for k, v in encoder.state_dict().items() if v.is_floating_point()}


@pytest.fixture(scope='module')
def full_size_checkpoint(tmp_path_factory):
    """``arch -> (encoder tensors, path of the raw mmmim checkpoint)``, one in memory."""
    cache = {}

    def get(arch: str):
        if arch not in cache:
            cache.clear()
            state = full_size_encoder_state(arch)
            path = tmp_path_factory.mktemp(arch) / 'pretrain.pth'
            torch.save({'state_dict': {f'encoder.{k}': v for k, v in state.items()}}, path)
            cache[arch] = (state, path)
        return cache[arch]
    return get


# schedules and InstaBoost leave the model as it is: one build per distinct model
MODEL_GROUPS = group_by(HTC, lambda cfg: cfg['model'])


@pytest.mark.parametrize('group', MODEL_GROUPS, ids=[g[0].stem for g in MODEL_GROUPS])
def test_htc__full_size_builds_and_loads_every_backbone_tensor(
        group, full_size_checkpoint, mmengine_log):
    from mmdet.registry import MODELS

    from mmmim.registry import WEIGHT_INITIALIZERS
    config = group[0]
    arch = re.match(r'htc\+\+(?:-without-semantic)?_(swin-[bl])', config.name).group(1)
    encoder_state, path = full_size_checkpoint(arch)
    cfg = load(config)
    init_default_scope('mmdet')
    with no_random_init():
        detector = MODELS.build(cfg.model)
    initializer = WEIGHT_INITIALIZERS.build(dict(cfg.model.init_cfg, checkpoint=str(path)))
    report = initializer(detector)                 # what init_weights runs first
    log = '\n'.join(mmengine_log)
    assert 'status: OK, backbone fully loaded' in log and 'MISSING' not in log, log
    backbone = detector.backbone
    converter = get_converter('swin', 'mmdet')
    converted, _ = converter({'state_dict': {f'encoder.{k}': v for k, v in
                                             encoder_state.items()}},
                             **converter_kwargs(converter, backbone, None))
    target = backbone.state_dict()
    assert sorted(report.matched) == sorted(k for k in converted if k in target)
    for key in report.matched:
        assert torch.equal(target[key], converted[key]), key
    not_loaded = [k for k, _ in backbone.named_parameters() if k not in converted]
    assert all(re.match(r'^norm[012]\.', k) for k in not_loaded), not_loaded
    changed = [k for k in report.matched if not torch.equal(encoder_state[k], converted[k])]
    assert changed and all(k.endswith('relative_position_bias_table') for k in changed)
