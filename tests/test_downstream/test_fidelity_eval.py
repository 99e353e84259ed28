"""Evaluation and recipe details of the benchmark configs against their references,
read from the built configs (``Config.fromfile``), not from the files' text:

- the ImageNet evaluation crop: UM-MAE's 256-px fine-tunes resize the short side to 256
  and crop 256 (its ``build_transform``: ``crop_pct`` 1.0 above 224 px), the 224-px
  ones resize to 256 and crop 224; checked pixel for pixel against PIL;
- the mmseg ``MAE`` backbone of the ViT UperNet configs normalizes with eps 1e-6;
- fine-tunes and the linear probe keep the last epoch's checkpoint, no "best" one;
- PVT's Mask R-CNN 1x warms up over 500 iterations (official PVT).
"""
from pathlib import Path

import numpy as np
import pytest
import torch
from harness import ROOT
from mmengine.config import Config
from PIL import Image

CLS = ROOT / 'configs/benchmarks/classification/imagenet'
CLASSIFICATION = sorted(CLS.glob('*.py'))
UPERNET_VIT = sorted((ROOT / 'configs/benchmarks/mmsegmentation/ade20k').glob('vit-*.py'))


def expected_eval_image(photo: np.ndarray, resize: int, crop: int) -> np.ndarray:
    """torchvision's ``Resize(resize, BICUBIC)`` + ``CenterCrop(crop)`` written with PIL
    (the transform of MAE's / UM-MAE's ``build_transform``)."""
    height, width = photo.shape[:2]
    size = (resize, int(resize * height / width)) if width < height else (
        int(resize * width / height), resize)                     # PIL's (w, h)
    resized = np.asarray(Image.fromarray(photo).resize(size, Image.BICUBIC))
    top = int(round((resized.shape[0] - crop) / 2.0))
    left = int(round((resized.shape[1] - crop) / 2.0))
    return resized[top:top + crop, left:left + crop]


def eval_image(pipeline, path: Path) -> np.ndarray:
    """The built pipeline, without its packing, on the image at ``path``."""
    from mmcv.transforms import Compose
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import TRANSFORMS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        steps = Compose([TRANSFORMS.build(step) for step in pipeline
                         if step['type'] != 'PackInputs'])
        return steps(dict(img_path=str(path)))['img']


@pytest.fixture(scope='module')
def photo_path(tmp_path_factory) -> Path:
    """A 300 x 400 (h x w) crop of scikit-image's astronaut, BGR on disk as PNG."""
    from skimage import data
    path = tmp_path_factory.mktemp('photo') / 'astronaut.png'
    Image.fromarray(data.astronaut()[50:350, 60:460]).save(path)
    return path


@pytest.mark.parametrize('config', CLASSIFICATION, ids=lambda p: p.stem[:40])
def test_classification_eval__resize_256_then_crop_at_the_training_size(config, photo_path):
    cfg = Config.fromfile(str(config))
    crop = 256 if config.stem.endswith('-256px') else 224
    photo_bgr = np.asarray(Image.open(photo_path))[..., ::-1].copy()
    expected = expected_eval_image(photo_bgr, 256, crop)
    for split in ('val', 'test'):
        image = eval_image(cfg[f'{split}_dataloader'].dataset.pipeline, photo_path)
        assert image.shape == (crop, crop, 3), (split, image.shape)
        np.testing.assert_array_equal(image, expected)


def test_256px_finetunes__are_the_three_ummae_configs():
    names = {p.stem.split('_')[0] for p in CLASSIFICATION if p.stem.endswith('-256px')}
    assert names == {'pvt-small', 'swin-tiny-w16', 'swin-large-w16'}


@pytest.mark.parametrize('config', UPERNET_VIT, ids=lambda p: p.stem.split('_')[0])
def test_upernet_vit__mae_backbone_layernorm_eps_is_1e_6(config):
    from mmengine.registry import DefaultScope
    from mmseg.registry import MODELS
    backbone = Config.fromfile(str(config)).model.backbone.to_dict()
    assert backbone['type'] == 'MAE'
    backbone.update(embed_dims=32, num_layers=2, num_heads=2, img_size=(32, 32),
                    out_indices=[0, 1])
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(backbone)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.LayerNorm)]
    assert len(norms) == 2 * 2 and {m.eps for m in norms} == {1e-6}


@pytest.mark.parametrize('config', CLASSIFICATION, ids=lambda p: p.stem[:40])
def test_classification__keeps_the_last_epoch_and_no_best_checkpoint(config):
    cfg = Config.fromfile(str(config))
    hook = cfg.default_hooks.checkpoint
    assert 'save_best' not in hook and hook.get('save_last', True)
    assert cfg.train_cfg.max_epochs % hook.interval == 0


def test_pvt_mask_rcnn_1x__warms_up_500_iterations_as_the_official_pvt():
    cfg = Config.fromfile(str(ROOT / 'configs/benchmarks/mmdetection/coco/'
                                     'mask-rcnn_pvt-s_fpn_1x_coco.py'))
    warmup, steps = cfg.param_scheduler
    assert (warmup.type, warmup.end, warmup.start_factor, warmup.by_epoch) == (
        'LinearLR', 500, 0.001, False)
    assert steps.milestones == [8, 11] and steps.end == cfg.train_cfg.max_epochs == 12
