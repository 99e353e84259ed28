"""The ViTDet Mask R-CNN config: at full size it builds on the CPU and loads a
full-size ViT-B mmmim pretraining checkpoint tensor for tensor."""
import copy
from pathlib import Path

import pytest
import torch
from mmengine.config import Config, ConfigDict
from mmengine.registry import init_default_scope

import mmmim.converters  # noqa: F401
import mmmim.models  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
CONFIG = (ROOT / 'configs/benchmarks/mmdetection/coco'
          / 'vitdet_mask-rcnn_vit-base-p16_lsj-1024-100e_coco.py')
MAE_VIT_B = ROOT / 'configs/mae/mae_vit-base-p16_8xb512-amp-coslr-400e_in1k.py'


def build_detector(model_cfg: dict):
    from mmdet.registry import MODELS
    init_default_scope('mmdet')
    try:
        return MODELS.build(ConfigDict(copy.deepcopy(model_cfg)))
    finally:
        init_default_scope('mmmim')


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
    model_cfg = cfg.model.to_dict()
    model_cfg['init_cfg']['checkpoint'] = path
    detector = build_detector(model_cfg)
    assert type(detector).__name__ == 'MaskRCNN'
    detector.init_weights()
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
