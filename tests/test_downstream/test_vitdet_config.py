"""The ViTDet Mask R-CNN config (configs/benchmarks/mmdetection/coco/vitdet_*):

- tiny (tests/test_downstream/tiny_detection.py's ViTDet override: 4-block 32-wide ViT, windows
  of 4 x 4 patches, 128-px LSJ, tiny COCO): built from a tiny mmmim MAE pretraining
  run's checkpoint, the load report says the backbone loaded (only the relative
  position tables new), two training iterations give finite losses and finite
  non-zero gradients in every trainable backbone tensor, one evaluation pass computes
  COCO bbox + segm AP; a fine-tuned classifier checkpoint loads too; a Swin
  checkpoint and a missing checkpoint fail at build;
- full size: the config builds on the CPU and MIMPretrained loads a full-size ViT-B
  mmmim pretraining checkpoint with every backbone tensor matched and equal.
"""
import math
from pathlib import Path

import pytest
import torch
from harness import run_downstream
from mmengine.config import Config
from mmengine.registry import init_default_scope
from tiny_detection import build_detector, tiny_coco_cfg

import mmmim.converters  # noqa: F401
import mmmim.models  # noqa: F401
from mmmim.converters import ConversionError

ROOT = Path(__file__).resolve().parents[2]
CONFIG = (ROOT / 'configs/benchmarks/mmdetection/coco'
          / 'vitdet_mask-rcnn_vit-base-p16_lsj-1024-100e_coco.py')
MAE_VIT_B = ROOT / 'configs/mae/mae_vit-base-p16_8xb512-amp-coslr-400e_in1k.py'


@pytest.fixture(scope='module')
def full_size_mae_checkpoint(tmp_path_factory):
    """(encoder state dict, path): a full-size MAE ViT-B pretraining model of our
    shipped config (PyTorch's default init), every tensor shifted by 0.01 so that
    none equals an initial value of the detector's backbone (ones, zeros)."""
    from mmmim.registry import MODELS
    init_default_scope('mmmim')
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(str(MAE_VIT_B)).model)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01)
    path = tmp_path_factory.mktemp('full_mae') / 'mae_vit-b.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {'epoch': 400}}, path)
    return model.encoder.state_dict(), str(path)


def test_full_size__config_builds_and_mimpretrained_loads_every_vit_b_tensor(
        full_size_mae_checkpoint, mmengine_log):
    encoder, path = full_size_mae_checkpoint
    cfg = Config.fromfile(str(CONFIG))
    cfg.model.init_cfg.checkpoint = path
    detector = build_detector(cfg.model)            # MIMPretrained runs here
    assert type(detector).__name__ == 'MaskRCNN'
    for i, layer in enumerate(detector.backbone.layers):   # ViTDet's ViT-B layout
        is_global = i in (2, 5, 8, 11)
        assert layer.window_size == (0 if is_global else 14)
        assert layer.attn.rel_pos_h.shape == layer.attn.rel_pos_w.shape == (
            (127 if is_global else 27), 64)
    drop = [layer.drop_path.drop_prob for layer in detector.backbone.layers]
    assert drop[0] == 0 and drop[-1] == pytest.approx(0.1) and drop == sorted(drop)
    assert detector.backbone.pos_embed.shape == (1, 1 + 14 * 14, 768)   # 224-px grid
    backbone = detector.backbone.state_dict()
    rel_pos = sorted(k for k in backbone if 'rel_pos' in k)
    assert len(rel_pos) == 2 * 12
    for key in set(backbone) - set(rel_pos):
        torch.testing.assert_close(backbone[key], encoder[key], atol=0, rtol=0, msg=key)
    assert not any(backbone[k].any() for k in rel_pos)           # zero init, untouched
    report = next(m for m in mmengine_log if 'load report' in m)
    assert '[vit->vitdet] load report into ViTDetBackbone' in report
    assert f'matched           : {len(backbone) - len(rel_pos)} tensors' in report
    assert 'expected missing  : 24' in report and 'status: OK' in report
    assert 'MISSING' not in report and 'UNEXPECTED' not in report


def test_config__mmmim_names_resolve_from_the_mmdet_scope():
    """``type='mmmim.X'`` in an mmdet-scoped config (mmmim's registries are
    grandchildren of mmengine's root)."""
    from mmdet.registry import MODELS, OPTIM_WRAPPER_CONSTRUCTORS
    assert MODELS.get('mmmim.ViTDetBackbone').__name__ == 'ViTDetBackbone'
    assert MODELS.get('mmmim.SimpleFeaturePyramid').__name__ == 'SimpleFeaturePyramid'
    constructor = OPTIM_WRAPPER_CONSTRUCTORS.get('mmmim.LayerDecayOptimWrapperConstructor')
    assert constructor.__name__ == 'LayerDecayOptimWrapperConstructor'


# ------------------------------------------------------------------------- tiny

TINY_SIZE = 0.125      # LSJ 1024 -> 128 px: an 8 x 8 patch map, 2 x 2 windows


def test_tiny__loads_mae_checkpoint_trains_two_iters_and_computes_coco_ap(
        tiny_coco, pretraining_checkpoint, tmp_path):
    cfg = tiny_coco_cfg(CONFIG, pretraining_checkpoint('vit'), tiny_coco, tmp_path,
                        size_factor=TINY_SIZE)
    run = run_downstream(cfg)
    backbone = run.model.backbone
    assert type(backbone).__name__ == 'ViTDetBackbone' and backbone.global_indices == (1, 3)
    assert '[vit->vitdet] load report into ViTDetBackbone' in run.log
    assert 'mmmim pretraining checkpoint (encoder.*)' in run.log
    assert 'expected missing  : 8 (layers.0.attn.rel_pos_h' in run.log
    assert 'status: OK, backbone fully loaded' in run.log
    assert 'layer-wise lr decay 0.7' in run.log
    assert len(run.losses) == 2 and run.finite_losses(), run.losses
    assert {'loss_rpn_cls', 'loss_cls', 'loss_bbox', 'loss_mask'} <= set(run.losses[0])
    assert run.backbone_grads_finite_and_nonzero()
    trainable = {n for n, p in backbone.named_parameters() if p.requires_grad}
    assert set(run.grad_norms[0]) == trainable and 'cls_token' not in trainable
    assert run.grad_norms[0]['layers.1.attn.rel_pos_h'] > 0   # the new tables learn
    for metric in ('coco/bbox_mAP', 'coco/segm_mAP', 'coco/bbox_mAP_50', 'coco/segm_mAP_50'):
        assert 0 <= run.metrics[metric] <= 1 and not math.isnan(run.metrics[metric])


def test_tiny__loads_a_finetuned_classifier_checkpoint(
        tiny_coco, classifier_checkpoint, mmengine_log, tmp_path):
    cfg = tiny_coco_cfg(CONFIG, classifier_checkpoint('vit'), tiny_coco, tmp_path,
                        size_factor=TINY_SIZE)
    build_detector(cfg.model)
    log = '\n'.join(mmengine_log)
    assert 'mmpretrain / mmselfsup model (backbone.*)' in log
    assert 'head (task specific)' in log and 'status: OK, backbone fully loaded' in log


def test_tiny__swin_checkpoint_fails_at_build(tiny_coco, tmp_path):
    from mmpretrain.models.backbones import SwinTransformer
    swin = SwinTransformer(arch=dict(embed_dims=16, depths=[1, 1], num_heads=[1, 2]),
                           img_size=64, out_indices=(1,))
    path = tmp_path / 'swin.pth'
    torch.save({'state_dict': {f'encoder.{k}': v for k, v in swin.state_dict().items()}},
               path)
    cfg = tiny_coco_cfg(CONFIG, path, tiny_coco, tmp_path, size_factor=TINY_SIZE)
    cfg.model.init_cfg.family = 'vit'     # the converter the config would pick
    with pytest.raises(ConversionError, match='no backbone tensor matched') as error:
        build_detector(cfg.model)
    assert '[vit->vitdet]' in str(error.value) and 'swin' in str(error.value)


def test_tiny__config_without_checkpoint_fails_at_build(tiny_coco, tmp_path):
    cfg = tiny_coco_cfg(CONFIG, 'unused', tiny_coco, tmp_path, size_factor=TINY_SIZE)
    cfg.model.init_cfg.checkpoint = None
    with pytest.raises(ValueError, match='needs a checkpoint'):
        build_detector(cfg.model)
