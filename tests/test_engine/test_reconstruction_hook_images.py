"""ReconstructionVisualizationHook with images that are not there (the demo pointed at
another data root, without the held-out folder beside it): a warning and the images
that are there, else the first training images, else no figure; never an error."""
from pathlib import Path

import numpy as np
from mmengine.config import Config
from PIL import Image

from mmmim.engine.hooks.reconstruction_visualization_hook import (
    ReconstructionVisualizationHook,
    first_images,
    training_image_folder,
)


def write_images(folder: Path, names) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(folder / name)


def train_cfg(data_root, data_prefix='') -> Config:
    return Config(dict(train_dataloader=dict(
        dataset=dict(data_root=str(data_root), data_prefix=data_prefix))))


def test_configured_images_are_drawn_when_all_exist(tmp_path, mmengine_log):
    write_images(tmp_path / 'heldout', ['b.png', 'a.png'])
    hook = ReconstructionVisualizationHook(images=[str(tmp_path / 'heldout')])
    files = hook.find_files(train_cfg(tmp_path / 'elsewhere'))
    assert [f.name for f in files] == ['a.png', 'b.png']
    assert 'not found' not in '\n'.join(mmengine_log)


def test_missing_heldout_folder__the_training_data_roots_first_images_with_a_warning(
        tmp_path, mmengine_log):
    write_images(tmp_path / 'mine' / 'train' / 'class_b', ['z.jpg'])
    write_images(tmp_path / 'mine' / 'train' / 'class_a', [f'{i}.jpg' for i in range(5)])
    hook = ReconstructionVisualizationHook(images=['data/demo_heldout_missing'])
    files = hook.find_files(train_cfg(tmp_path / 'mine', dict(img_path='train')))
    assert [f.parent.name + '/' + f.name for f in files] == [
        'class_a/0.jpg', 'class_a/1.jpg', 'class_a/2.jpg', 'class_a/3.jpg']
    assert 'data/demo_heldout_missing not found' in '\n'.join(mmengine_log)
    assert 'the first 4 of the training data' in '\n'.join(mmengine_log)


def test_some_images_missing__the_others_are_drawn(tmp_path, mmengine_log):
    write_images(tmp_path, ['kept.png'])
    hook = ReconstructionVisualizationHook(images=[str(tmp_path / 'gone.png'),
                                                   str(tmp_path / 'kept.png')])
    assert [f.name for f in hook.find_files(train_cfg(tmp_path))] == ['kept.png']
    assert 'gone.png not found; drawing the others' in '\n'.join(mmengine_log)


def test_nothing_to_draw__warns_and_draws_no_figure(tmp_path, mmengine_log):
    hook = ReconstructionVisualizationHook(images=[str(tmp_path / 'gone')])
    hook.files = hook.find_files(train_cfg(tmp_path / 'empty_root'))
    assert hook.files == [] and 'no reconstruction figures' in '\n'.join(mmengine_log)
    assert hook.draw(runner=None, step=0) is None  # before touching the runner


def test_training_image_folder__root_and_prefix_through_dataset_wrappers():
    cfg = Config(dict(train_dataloader=dict(dataset=dict(
        type='RepeatDataset', dataset=dict(data_root='data/x', data_prefix='train')))))
    assert training_image_folder(cfg) == 'data/x/train'
    assert training_image_folder(Config(dict())) is None


def test_first_images__stop_after_count_in_sorted_order(tmp_path):
    write_images(tmp_path, ['c.png', 'a.png', 'b.png'])
    (tmp_path / 'a0.txt').write_text('not an image')
    assert [f.name for f in first_images(str(tmp_path), 2)] == ['a.png', 'b.png']
    assert first_images(str(tmp_path / 'none'), 2) == []
