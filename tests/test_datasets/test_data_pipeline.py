"""The pretraining pipeline end to end on real photographs: LoadImageSafely ->
RandomResizedCrop -> RandomFlip -> PackInputs gives crop-size tensors (also for images
smaller than the crop), the shipped demo config builds, and a DataLoader epoch over a
folder holding a corrupt file completes and reports the skip."""
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, default_collate
from mmengine.registry import init_default_scope
from PIL import Image

from mmmim.datasets import ImageFolder
from mmmim.registry import DATASETS, TRANSFORMS

CROP = 64
CONFIG = Path(__file__).parents[2] / 'configs' / 'demo' / 'mae_vit-tiny_demo.py'


def pretrain_pipeline(crop: int = CROP) -> list:
    """The transforms of configs/_base_/datasets/imagenet_pretrain.py at ``crop``."""
    return [
        dict(type='LoadImageSafely'),
        dict(type='RandomResizedCrop', scale=crop, crop_ratio_range=(0.2, 1.0),
             backend='pillow', interpolation='bicubic'),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackInputs'),
    ]


def test_pipeline__crop_size_tensors_even_below_crop_size(tmp_path, demo_images_dir):
    thumbnail = tmp_path / 'chelsea_17x11.jpg'
    Image.open(demo_images_dir / 'chelsea.jpg').resize((17, 11)).save(thumbnail)
    pipeline = Compose([TRANSFORMS.build(t) for t in pretrain_pipeline(crop=128)])
    for path in [thumbnail, demo_images_dir / 'microaneurysms.png',  # 102 px, grayscale
                 demo_images_dir / 'retina.jpg']:
        packed = pipeline({'img_path': str(path)})
        assert packed['inputs'].shape == (3, 128, 128), path
        assert packed['inputs'].dtype == torch.uint8


def test_pipeline__demo_config_dataset_builds_and_yields_crop_size(demo_images_dir):
    cfg = Config.fromfile(str(CONFIG))
    dataset_cfg = cfg.train_dataloader.dataset
    dataset_cfg.data_root = str(demo_images_dir)
    init_default_scope('mmmim')
    dataset = DATASETS.build(dataset_cfg)
    assert isinstance(dataset, ImageFolder)
    assert len(dataset) == len(list(demo_images_dir.iterdir()))
    for i in range(0, len(dataset), 6):
        assert dataset[i]['inputs'].shape == (3, cfg.image_size, cfg.image_size)


@pytest.fixture
def folder_with_corrupt_file(tmp_path, demo_images_dir) -> Path:
    """Six demo photographs and one JPEG cut in half."""
    for name in ['chelsea.jpg', 'camera.png', 'coins.png', 'rocket.jpg', 'page.png',
                 'microaneurysms.png']:
        shutil.copy(demo_images_dir / name, tmp_path / name)
    data = (demo_images_dir / 'astronaut.jpg').read_bytes()
    (tmp_path / 'astronaut_cut.jpg').write_bytes(data[:len(data) // 3])
    return tmp_path


@pytest.mark.parametrize('num_workers', [0, 1])
def test_dataloader__epoch_completes_with_corrupt_file_and_reports_skip(
        folder_with_corrupt_file, mmengine_log, num_workers):
    np.random.seed(0)
    dataset = ImageFolder(data_root=str(folder_with_corrupt_file),
                          pipeline=pretrain_pipeline())
    loader = torch.utils.data.DataLoader(dataset, batch_size=3, num_workers=num_workers,
                                         collate_fn=default_collate)
    before = dataset.skipped_images[0].total
    batches = list(loader)
    assert len(batches) == math.ceil(len(dataset) / 3) == 3
    assert sum(len(b['inputs']) for b in batches) == len(dataset) == 7
    assert all(b['inputs'].shape[1:] == (3, CROP, CROP) for b in batches)
    cut = str(folder_with_corrupt_file / 'astronaut_cut.jpg')
    where = 'this process' if num_workers == 0 else 'data loader worker 0'
    assert any(cut in m and 'truncated' in m and f'skipped so far in {where}' in m
               for m in mmengine_log), mmengine_log
    assert dataset.skipped_images[0].total > before  # workers add to the main count
