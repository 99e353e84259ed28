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
from default_scope import default_scope_as_found  # noqa: F401 (autouse)
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


# ------------------------------------------------------------ tools/test.py --tta

ADE_MAE = ROOT / 'configs/benchmarks/mmsegmentation/ade20k/' \
    'vit-base-p16-mae_upernet_8xb2-ld0.65-160k_ade20k-512x512.py'


@pytest.fixture(scope='module')
def test_tool(tmp_path_factory):
    """tools/test.py's globals (it imports tools/train.py as ``train``)."""
    import runpy
    import sys
    sys.path.insert(0, str(ROOT / 'tools'))
    try:
        yield runpy.run_path(str(ROOT / 'tools/test.py'), run_name='mmmim_test_tool')
    finally:
        sys.path.remove(str(ROOT / 'tools'))


ADE_SWIN = ROOT / 'configs/benchmarks/mmsegmentation/ade20k/' \
    'swin-tiny-patch4-window7_upernet_8xb2-160k_ade20k-512x512.py'
RATIOS = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]


def test_ade20k_tta_pipeline__six_ratios_of_the_test_scale_each_with_and_without_flip():
    """The ADE base (mmseg 0.x's MultiScaleFlipAug over (2048, 512)), as Swin gets it."""
    cfg = Config.fromfile(str(ADE_SWIN))
    load, tta = cfg.tta_pipeline
    assert load.type == 'LoadImageFromFile' and tta.type == 'TestTimeAug'
    resizes, flips, annotations, pack = tta.transforms
    test_resize = next(s for s in cfg.test_dataloader.dataset.pipeline if s.type == 'Resize')
    assert [r.scale for r in resizes] == [
        (int(test_resize.scale[0] * r), int(test_resize.scale[1] * r)) for r in RATIOS]
    assert all(r.keep_ratio for r in resizes)
    assert [(f.type, f.prob) for f in flips] == [('RandomFlip', 0.0), ('RandomFlip', 1.0)]
    assert annotations[0].reduce_zero_label and pack[0].type == 'PackSegInputs'
    assert cfg.tta_model.type == 'SegTTAModel'


@pytest.mark.parametrize('config', UPERNET_VIT, ids=lambda p: p.stem.split('_')[0])
def test_vit_upernet_tta__short_side_at_least_the_512_window_as_mmseg_0x_mae_ms(config):
    """mmseg's MAE cannot resize its position table: every scale keeps the short side
    >= 512 (0.x's ``min_size=512``), so slide windows are whole 512 x 512 crops."""
    cfg = Config.fromfile(str(config))
    resizes, flips = cfg.tta_pipeline[1].transforms[:2]
    assert [min(r.scale) for r in resizes] == [max(512, int(512 * r)) for r in RATIOS]
    assert all(max(r.scale) >= 2048 * 8 and r.keep_ratio for r in resizes)
    assert [f.prob for f in flips] == [0.0, 1.0]
    assert cfg.model.test_cfg.crop_size == (512, 512)


def test_tta__segmentor_runs_as_seg_tta_model_on_the_tta_pipeline(test_tool, tmp_path):
    """A tiny ViT UperNet checkpoint tested with ``--tta`` on a tiny ADE image: the
    model is mmseg's SegTTAModel around the segmentor, every image merges 12
    predictions (6 scales x 2 flips, slide windows), and mIoU comes out."""
    from unittest import mock

    from harness import scale_sizes
    from mmseg.models import SegTTAModel
    from tiny_seg import SIZE_FACTOR, tiny_ade_cfg

    from mimbench.tiny_data.ade import write_tiny_ade
    data = tmp_path / 'ade'
    write_tiny_ade(data)
    cfg = tiny_ade_cfg(ADE_MAE, tmp_path / 'unused.pth', data, tmp_path / 'work')
    scale_sizes(cfg.tta_pipeline, SIZE_FACTOR)
    cfg.test_dataloader.dataset.indices = 1                # one validation image
    cfg.test_dataloader.num_workers = 0
    cfg.test_dataloader.persistent_workers = False
    from mmengine.registry import DefaultScope
    from mmseg.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmseg'):
        segmentor = MODELS.build(dict(cfg.model.to_dict(), init_cfg=None))
    checkpoint = tmp_path / 'segmentor.pth'
    torch.save(dict(state_dict=segmentor.state_dict(), meta={}), checkpoint)
    cfg.dump(str(tmp_path / 'cfg.py'))
    merged = []
    original = SegTTAModel.merge_preds

    def counting(self, data_samples_list):
        merged.extend(len(samples) for samples in data_samples_list)
        return original(self, data_samples_list)

    with mock.patch.object(SegTTAModel, 'merge_preds', counting):
        metrics = test_tool['main']([str(tmp_path / 'cfg.py'), str(checkpoint), '--tta',
                                     '--work-dir', str(tmp_path / 'work')])
    assert merged == [12]
    assert 0 <= metrics['mIoU'] <= 100


def test_tta__config_without_tta_pipeline_stops_naming_it(test_tool):
    cfg = Config(dict(default_scope='mmdet', model=dict(type='MaskRCNN'),
                      test_dataloader=dict(dataset=dict(pipeline=[]))))
    with pytest.raises(SystemExit, match='configs/x_coco.py has no tta_pipeline'):
        test_tool['use_tta'](cfg, 'configs/x_coco.py')


def test_tta__classifier_default_is_flip_and_average_scores(test_tool):
    cfg = Config.fromfile(str(CLS / 'vit-base-p16_8xb128-ft-ld0.65-coslr-100e_in1k.py'))
    test_pipeline = cfg.test_dataloader.dataset.pipeline
    test_tool['use_tta'](cfg, 'vit.py')
    assert cfg.model.type == 'mmpretrain.AverageClsScoreTTA'
    assert cfg.model.module.type == 'ImageClassifier'
    tta = cfg.test_dataloader.dataset.pipeline
    assert tta[:-1] == test_pipeline[:-1] and tta[-1].type == 'TestTimeAug'
    assert [f.prob for f in tta[-1].transforms[0]] == [1.0, 0.0]
    assert tta[-1].transforms[1] == [test_pipeline[-1]]
