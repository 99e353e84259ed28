"""UM-MAE's GFL configs (configs/benchmarks/mmdetection/coco/gfl_*) against its released
recipe (implus/UM-MAE DET/configs/gfl/gfl_mae_{swin_tiny,pvt_small}_256_mask_vmr025_
200e_100e_fpn_25ep_1024x1024_coco.py with their mmdet 2.20 bases, 8 GPUs per
DET/DETECTION.md):

- the built config holds the recipe's items (schedule, optimizer, fp16 loss scale, LSJ,
  test scale, batch = the name's, evaluation, checkpoints, backbone drop path / window)
  and starts from the last epoch of our ImageNet fine-tune of that backbone;
- head, assigner, test settings and FPN layout are mmdet's GFL (equal to the recipe's);
- the lr per iteration is mmcv 1.x's linear warm-up times cosine-by-epoch;
- tiny (tiny_detection.py override, tiny COCO): a tiny fine-tuned classifier loads
  through MIMPretrained, two iterations train, COCO box AP is computed (mmcv's NMS).
"""
import math
from pathlib import Path

import mmdet
import pytest
from default_scope import default_scope_as_found  # noqa: F401 (autouse)
from harness import ROOT, run_downstream
from mmengine.config import Config
from tiny_detection import tiny_coco_cfg

from mmmim.engine.hooks.train_setup_report_hook import named_batch

COCO = ROOT / 'configs/benchmarks/mmdetection/coco'
FINETUNE = ROOT / 'configs/benchmarks/classification/imagenet'
#: config -> (family, the fine-tune config whose last checkpoint it starts from)
GFL = {
    'gfl_swin-t-p4-w16_fpn_lsj-1024-8xb2-25e_coco.py':
        ('swin', 'swin-tiny-w16_8xb128-ft-ld0.85-coslr-100e_in1k-256px.py'),
    'gfl_pvt-s_fpn_lsj-1024-8xb2-25e_coco.py':
        ('pvt', 'pvt-small_8xb128-ft-ld0.85-coslr-100e_in1k-256px.py'),
}
MMDET_GFL = Path(mmdet.__file__).parent / '.mim/configs/gfl/gfl_r50_fpn_1x_coco.py'

#: the recipe's values, read from the two UM-MAE files (equal in both)
RECIPE = dict(
    epochs=25, optimizer='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05,
    dtype='float16', loss_scale=dict(init_scale=512), clip_grad=None,
    lsj_scale=(1024, 1024), ratio_range=(0.1, 2.0), crop=(1024, 1024), pad=(1024, 1024),
    min_box=(1e-2, 1e-2), flip=0.5, test_scale=(1333, 800), masks=False,
    gpus=8, per_gpu=2, val_interval=1, metric='bbox', checkpoint_interval=5,
    drop_path=0.1)


def step(pipeline: list, kind: str) -> dict:
    (found,) = [s for s in pipeline if s['type'] == kind]
    return found


def recipe_items(cfg: Config) -> dict:
    """The recipe's items as the built config holds them."""
    train = cfg.train_dataloader.dataset.pipeline
    wrapper = cfg.optim_wrapper
    resize = step(train, 'RandomResize')
    pad = step(cfg.model.data_preprocessor.batch_augments, 'BatchFixedSizePad')
    loads = [step(p, 'LoadAnnotations') for p in (train, cfg.test_dataloader.dataset.pipeline)]
    return dict(
        epochs=cfg.train_cfg.max_epochs, optimizer=wrapper.optimizer.type,
        lr=wrapper.optimizer.lr, betas=wrapper.optimizer.betas,
        weight_decay=wrapper.optimizer.weight_decay, dtype=wrapper.dtype,
        loss_scale=wrapper.loss_scale, clip_grad=wrapper.get('clip_grad'),
        lsj_scale=resize.scale, ratio_range=resize.ratio_range,
        crop=step(train, 'RandomCrop').crop_size, pad=pad.size,
        min_box=step(train, 'FilterAnnotations').min_gt_bbox_wh,
        flip=step(train, 'RandomFlip').prob,
        test_scale=step(cfg.test_dataloader.dataset.pipeline, 'Resize').scale,
        masks=any(load.get('with_mask', False) for load in loads),
        gpus=named_batch(Path(cfg.filename).name)[0], per_gpu=cfg.train_dataloader.batch_size,
        val_interval=cfg.train_cfg.val_interval, metric=cfg.val_evaluator.metric,
        checkpoint_interval=cfg.default_hooks.checkpoint.interval,
        drop_path=cfg.model.backbone.drop_path_rate)


@pytest.mark.parametrize('config', sorted(GFL))
def test_gfl__built_config_holds_ummaes_recipe(config):
    cfg = Config.fromfile(str(COCO / config))
    assert recipe_items(cfg) == RECIPE
    assert cfg.auto_scale_lr.base_batch_size == RECIPE['gpus'] * RECIPE['per_gpu'] == 16
    assert cfg.optim_wrapper.get('accumulative_counts', 1) == 1
    assert cfg.find_unused_parameters is True   # the FPN leaves stage 1's output unused
    if GFL[config][0] == 'swin':
        assert cfg.model.backbone.window_size == 16


@pytest.mark.parametrize('config', sorted(GFL))
def test_gfl__starts_from_the_last_epoch_of_our_imagenet_finetune(config):
    """The recipe's ``pretrained`` is finetune_..._200e_100e/checkpoint-99.pth: the last
    of 100 fine-tuning epochs; ours is that fine-tune config's last checkpoint."""
    cfg = Config.fromfile(str(COCO / config))
    finetune = FINETUNE / GFL[config][1]
    ft = Config.fromfile(str(finetune))
    assert ft.model.type == 'ImageClassifier' and ft.train_cfg.max_epochs == 100
    assert cfg.model.init_cfg.type == 'MIMPretrained'
    assert cfg.model.init_cfg.submodule == 'backbone'
    assert cfg.model.init_cfg.checkpoint == (
        f'work_dirs/{finetune.stem}/epoch_{ft.train_cfg.max_epochs}.pth')


@pytest.mark.parametrize('config', sorted(GFL))
def test_gfl__head_assigner_test_settings_and_fpn_are_mmdets_gfl(config):
    ours, gfl = (Config.fromfile(str(p)).model.to_dict() for p in (COCO / config, MMDET_GFL))
    for key in ('type', 'bbox_head', 'train_cfg', 'test_cfg'):
        assert ours[key] == gfl[key], key
    neck = dict(ours['neck'])
    assert neck.pop('norm_cfg') == dict(type='SyncBN', requires_grad=True)  # recipe's
    assert len(neck.pop('in_channels')) == len(gfl['neck'].pop('in_channels')) == 4
    assert neck == gfl['neck']
    preprocessor = dict(ours['data_preprocessor'])
    preprocessor.pop('batch_augments')
    assert preprocessor == gfl['data_preprocessor']


def mmcv_lr(base: float, iteration: int, epoch: int) -> float:
    """mmcv 1.x: CosineAnnealing(min_lr_ratio=0.01) by epoch over 25 epochs, times the
    linear warm-up over 2000 iterations from 0.001 (LrUpdaterHook)."""
    target = base * 0.01
    regular = target + 0.5 * (base - target) * (1 + math.cos(math.pi * epoch / 25))
    if iteration >= 2000:
        return regular
    return regular * (1 - (1 - iteration / 2000) * (1 - 0.001))


def test_gfl__lr_per_iteration_is_mmcvs_warm_up_times_cosine(monkeypatch):
    """At 2100 iterations per epoch the warm-up ends inside the first epoch, as on COCO
    (7330 iterations of 16 images). mmengine's LinearLR reaches the base lr at
    iteration 1999, mmcv's warm-up at 2000: within 1/1999 before, equal after."""
    import test_schedules
    monkeypatch.setattr(test_schedules, 'EPOCH_LENGTH', 2100)
    cfg = Config.fromfile(str(COCO / sorted(GFL)[0]))
    lrs, _ = test_schedules.lr_curve(cfg)
    assert len(lrs) == 25 * 2100
    expected = [mmcv_lr(1e-4, i, i // 2100) for i in range(len(lrs))]
    assert lrs[:2000] == pytest.approx(expected[:2000], rel=1 / 1999)
    assert lrs[2000:] == pytest.approx(expected[2000:], rel=1e-9)
    assert lrs[-1] == pytest.approx(1e-6 + 0.5 * (1e-4 - 1e-6) * (1 + math.cos(math.pi * 24 / 25)))


@pytest.mark.parametrize('config', sorted(GFL))
def test_gfl__tiny_from_a_finetuned_classifier_trains_and_computes_box_ap(
        config, tiny_coco, classifier_checkpoint, tmp_path):
    """The head's GroupNorm keeps its 8 channels per group at the tiny width (4 groups
    of 32; 32 groups of one channel would each see one value on the 1 x 1 P7 map);
    every box is kept at test (an untrained head scores about 0.01, the focal-loss
    prior, under the 0.05 threshold: no boxes, no AP)."""
    family = GFL[config][0]
    options = {'model.bbox_head.norm_cfg': dict(type='GN', num_groups=4, requires_grad=True),
               'model.test_cfg.score_thr': 0.0}
    run = run_downstream(tiny_coco_cfg(COCO / config, classifier_checkpoint(family),
                                       tiny_coco, tmp_path, size_factor=0.125,
                                       options=options))
    assert f'[{family}->mmdet] load report into' in run.log
    assert 'mmpretrain / mmselfsup model (backbone.*)' in run.log
    assert 'status: OK, backbone fully loaded' in run.log
    assert 'layer-wise lr decay' in run.log
    assert len(run.losses) == 2 and run.finite_losses(), run.losses
    assert {'loss_cls', 'loss_bbox', 'loss_dfl'} <= set(run.losses[0])
    assert run.backbone_grads_finite_and_nonzero()
    assert type(run.model.bbox_head).__name__ == 'GFLHead'
    for metric in ('coco/bbox_mAP', 'coco/bbox_mAP_50'):
        assert metric in run.metrics and 0 <= run.metrics[metric] <= 1, run.metrics
