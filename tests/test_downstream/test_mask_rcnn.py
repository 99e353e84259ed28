"""Mask R-CNN configs (configs/benchmarks/mmdetection/coco/mask-rcnn_*):

- tiny (override of tiny_detection.py, tiny COCO data): built from a tiny mmmim pretraining
  checkpoint of the family, the load report in the log says the backbone loaded,
  two training iterations give finite losses and finite non-zero backbone
  gradients, one evaluation pass computes COCO bbox and segm AP (real mmcv
  RoIAlign / NMS);
- a fine-tuned mmpretrain classifier checkpoint (``backbone.*``) loads as well;
- full size (no override, no training): the config builds and MIMPretrained loads a
  full-size pretraining encoder with every backbone tensor matched, equal to the
  encoder's after the documented conversions;
- wrong checkpoints (other family, other width, tensors missing) fail at build.
"""
import importlib.util
import math
import re
from pathlib import Path

import pytest
import torch
from harness import ROOT, captured_log, run_downstream
from mmengine.config import Config
from mmengine.registry import init_default_scope
from tiny_detection import build_detector, tiny_coco_cfg

from mmmim.converters import ConversionError, get_converter
from mmmim.converters.initializer import converter_kwargs

CONFIG_DIR = ROOT / 'configs/benchmarks/mmdetection/coco'
MASK_RCNN = sorted(CONFIG_DIR.glob('mask-rcnn_*.py'))


def family_of(config: Path) -> str:
    return 'swin' if '_swin-' in config.name else 'pvt'


def test_mask_rcnn_configs__all_shipped():
    names = {p.name for p in MASK_RCNN}
    assert names == {f'mask-rcnn_{arch}_fpn_{schedule}_coco.py'
                     for arch in ('swin-t-p4-w7', 'swin-b-p4-w7', 'pvt-s')
                     for schedule in ('1x', 'ms-crop-3x')}


@pytest.mark.parametrize('config', MASK_RCNN, ids=[p.stem for p in MASK_RCNN])
def test_mask_rcnn__tiny_loads_trains_two_iters_and_computes_coco_ap(
        config, tiny_coco, pretraining_checkpoint, tmp_path):
    family = family_of(config)
    run = run_downstream(tiny_coco_cfg(config, pretraining_checkpoint(family), tiny_coco,
                                       tmp_path))
    backbone = type(run.model.backbone).__name__
    assert f'[{family}->mmdet] load report into {backbone}' in run.log
    assert 'mmmim pretraining checkpoint (encoder.*)' in run.log
    assert 'status: OK, backbone fully loaded' in run.log
    assert 'layer-wise lr decay' in run.log  # the constructor logged its groups
    assert len(run.losses) == 2 and run.finite_losses(), run.losses
    assert {'loss_rpn_cls', 'loss_cls', 'loss_bbox', 'loss_mask'} <= set(run.losses[0])
    assert len(run.grad_norms) == 2 and run.backbone_grads_finite_and_nonzero()
    n_backbone = sum(p.requires_grad for p in run.model.backbone.parameters())
    assert len(run.grad_norms[0]) == n_backbone  # every backbone parameter got one
    roi_layer = run.model.roi_head.bbox_roi_extractor.roi_layers[0]
    assert type(roi_layer).__module__ == 'mmcv.ops.roi_align'  # the compiled op
    assert importlib.util.find_spec('mmcv._ext') is not None
    for metric in ('coco/bbox_mAP', 'coco/segm_mAP', 'coco/bbox_mAP_50', 'coco/segm_mAP_50'):
        assert metric in run.metrics and 0 <= run.metrics[metric] <= 1, run.metrics
        assert not math.isnan(run.metrics[metric])


@pytest.mark.parametrize('family', ['swin', 'pvt'])
def test_mask_rcnn__tiny_loads_a_finetuned_classifier_checkpoint(
        family, tiny_coco, classifier_checkpoint, tmp_path):
    config = CONFIG_DIR / ('mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py' if family == 'swin'
                           else 'mask-rcnn_pvt-s_fpn_1x_coco.py')
    cfg = tiny_coco_cfg(config, classifier_checkpoint(family), tiny_coco, tmp_path)
    with captured_log() as messages:
        build_detector(cfg.model)
    log = '\n'.join(messages)
    assert f'[{family}->mmdet] load report into' in log
    assert 'mmpretrain / mmselfsup model (backbone.*)' in log
    assert 'head (task specific)' in log
    assert 'status: OK, backbone fully loaded' in log


# ------------------------------------------------------------------- full size

FULL_ENCODERS = {  # backbone arch of a config -> the pretraining config of its encoder
    'swin-t': 'configs/ummae/ummae_swin-tiny-w8_8xb512-amp-coslr-200e_in1k-256px.py',
    'swin-b': 'configs/localmim/localmim_swin-base-w7_8xb256-amp-coslr-100e_in1k.py',
    'pvt-s': 'configs/ummae/ummae_pvt-small_8xb512-amp-coslr-200e_in1k-256px.py',
}


@pytest.fixture(scope='module')
def full_size_checkpoint(tmp_path_factory):
    """``arch -> (encoder state dict, path)`` of a random-init full-size encoder of
    our pretraining config, saved as a raw mmmim checkpoint (cached)."""
    import mmmim.models  # noqa: F401
    from mmmim.registry import MODELS
    cache = {}

    def get(arch: str):
        if arch not in cache:
            init_default_scope('mmmim')
            torch.manual_seed(0)
            encoder_cfg = Config.fromfile(str(ROOT / FULL_ENCODERS[arch])).model.encoder
            encoder = MODELS.build(encoder_cfg)
            encoder.init_weights()
            state = {f'encoder.{k}': v for k, v in encoder.state_dict().items()}
            path = tmp_path_factory.mktemp(arch) / 'pretrain.pth'
            torch.save({'state_dict': state}, path)
            cache.clear()  # keep one full-size encoder in memory at a time
            cache[arch] = (encoder.state_dict(), path)
        return cache[arch]
    return get


ONE_X = [p for p in MASK_RCNN if p.name.endswith('_1x_coco.py')]


@pytest.mark.parametrize('config', ONE_X, ids=[p.stem for p in ONE_X])
def test_mask_rcnn__full_size_backbone_equals_the_pretrained_encoder(
        config, full_size_checkpoint):
    arch = re.match(r'mask-rcnn_(swin-[tb]|pvt-s)', config.name).group(1)
    encoder_state, path = full_size_checkpoint(arch)
    cfg = Config.fromfile(str(config))
    cfg.model.init_cfg.checkpoint = str(path)
    with captured_log() as messages:
        detector = build_detector(cfg.model.to_dict())
    backbone = detector.backbone
    log = '\n'.join(messages)
    assert 'status: OK, backbone fully loaded' in log and 'MISSING' not in log, log
    family = family_of(config)
    converter = get_converter(family, 'mmdet')
    converted, report = converter({'state_dict': {f'encoder.{k}': v for k, v in
                                                  encoder_state.items()}},
                                  **converter_kwargs(converter, backbone, None))
    target = backbone.state_dict()
    loaded = [k for k in converted if k in target]
    assert loaded and all(k in target or k in report.optional for k in converted)
    for key in loaded:
        assert torch.equal(target[key], converted[key]), key
    # every learnable tensor of the backbone came from the checkpoint, except the
    # output norms mmdet adds for the FPN (its expected-missing list)
    not_loaded = [k for k, _ in backbone.named_parameters() if k not in converted]
    assert all(re.match(r'^norm\d+\.|^layers\.\d+\.2\.', k) for k in not_loaded), not_loaded
    # unchanged tensors are the encoder's own; changed ones are the documented kinds
    changed = [k for k in loaded if k in encoder_state and not torch.equal(
        encoder_state[k], converted[k])]
    documented = r'relative_position_bias_table$|attn\.sr\.weight$|pos_embed$'
    assert all(re.search(documented, k) for k in changed), changed


@pytest.mark.parametrize('one_x', ONE_X, ids=[p.stem for p in ONE_X])
def test_mask_rcnn__3x_config_builds_the_same_full_size_model_as_its_1x(one_x):
    """The ms-crop-3x configs differ from their 1x sibling in data and schedule only,
    so the full-size build and load above hold for them too."""
    three_x = one_x.with_name(one_x.name.replace('_1x_', '_ms-crop-3x_'))
    cfg_1x, cfg_3x = Config.fromfile(str(one_x)), Config.fromfile(str(three_x))
    assert cfg_3x.model.to_dict() == cfg_1x.model.to_dict()
    assert cfg_3x.optim_wrapper.to_dict() == cfg_1x.optim_wrapper.to_dict()
    assert cfg_3x.train_cfg.max_epochs == 36 and cfg_1x.train_cfg.max_epochs == 12
    assert [s.milestones for s in cfg_3x.param_scheduler if 'milestones' in s] == [[27, 33]]


# -------------------------------------------------------------- wrong checkpoints

SWIN_T_1X = CONFIG_DIR / 'mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py'


def _failing_build(cfg: Config) -> str:
    with pytest.raises(ConversionError) as error:
        build_detector(cfg.model)
    return str(error.value)


def test_mask_rcnn__checkpoint_of_another_family_fails_at_build(
        tiny_coco, pretraining_checkpoint, tmp_path):
    cfg = tiny_coco_cfg(SWIN_T_1X, pretraining_checkpoint('pvt'), tiny_coco, tmp_path)
    message = _failing_build(cfg)
    assert '[pvt->mmdet] load report into SwinTransformer' in message
    assert 'FAILED, backbone did not load' in message


def test_mask_rcnn__checkpoint_of_another_width_fails_at_build(
        tiny_coco, pretraining_checkpoint, tmp_path):
    cfg = tiny_coco_cfg(SWIN_T_1X, pretraining_checkpoint('swin'), tiny_coco, tmp_path)
    cfg.model.backbone.embed_dims = 32
    cfg.model.neck.in_channels = [32, 64, 128, 256]
    message = _failing_build(cfg)
    assert 'SHAPE_MISMATCH' in message and 'FAILED, backbone did not load' in message


def _rewritten(checkpoint: Path, path: Path, rewrite) -> Path:
    """``checkpoint``'s state dict through ``rewrite``, saved at ``path``."""
    state = torch.load(checkpoint, map_location='cpu', weights_only=False)['state_dict']
    torch.save(rewrite(state), path)
    return path


def test_mask_rcnn__checkpoint_with_backbone_tensors_removed_fails_at_build(
        tiny_coco, pretraining_checkpoint, tmp_path):
    stripped = _rewritten(pretraining_checkpoint('swin'), tmp_path / 'stripped.pth',
                          lambda state: {'state_dict': {
                              k: v for k, v in state.items()
                              if not k.startswith('encoder.stages.1.blocks.0.')}})
    message = _failing_build(tiny_coco_cfg(SWIN_T_1X, stripped, tiny_coco, tmp_path))
    assert 'MISSING' in message and 'stages.1.blocks.0.' in message


def test_mask_rcnn__timm_layout_checkpoint_fails_at_build(
        tiny_coco, pretraining_checkpoint, tmp_path):
    converter = get_converter('swin', 'timm')
    path = _rewritten(pretraining_checkpoint('swin'), tmp_path / 'timm.pth',
                      lambda state: {'model': converter({'state_dict': state})[0]})
    message = _failing_build(tiny_coco_cfg(SWIN_T_1X, path, tiny_coco, tmp_path))
    assert 'FAILED, backbone did not load' in message
