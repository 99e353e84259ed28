"""The tiny ADE-style dataset: ADE's layout and label convention, labels derived from
the pixels, deterministic, readable by mmseg with the ADE pipeline."""
import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mimbench.tiny_data.ade import (
    SPLITS,
    TINY_ADE_CLASSES,
    TINY_ADE_METAINFO,
    colour_labels,
    write_tiny_ade,
)


@pytest.fixture(scope='module')
def tiny_ade(tmp_path_factory):
    root = tmp_path_factory.mktemp('tiny_ade')
    return root, write_tiny_ade(root)


def pairs(root: Path, split: str):
    images = sorted((root / 'images' / split).glob('*.jpg'))
    return [(img, root / 'annotations' / split / (img.stem + '.png')) for img in images]


def test_layout__image_and_label_map_of_the_same_size_in_both_splits(tiny_ade):
    root, counts = tiny_ade
    for split in SPLITS:
        found = pairs(root, split)
        assert len(found) == counts[f'{split}_images'] >= 5
        for img_path, ann_path in found:
            img, ann = Image.open(img_path), Image.open(ann_path)
            assert img.mode == 'RGB' and ann.mode == 'L'
            assert img.size == ann.size and min(img.size) >= 64


def test_labels__ade_convention_zero_is_other_and_every_class_occurs(tiny_ade):
    root, counts = tiny_ade
    for split in SPLITS:
        seen, labelled = set(), 0
        for _, ann_path in pairs(root, split):
            labels = np.asarray(Image.open(ann_path))
            seen |= set(np.unique(labels).tolist())
            labelled += int((labels > 0).sum())
        assert seen == set(range(len(TINY_ADE_CLASSES) + 1)), (split, seen)
        assert labelled == counts[f'{split}_labelled_pixels']


def test_labels__follow_the_pixels(tiny_ade):
    """Coins are brighter than the background; 'blue' pixels are bluer than red."""
    root, _ = tiny_ade
    img = np.asarray(Image.open(root / 'images/training/coins.jpg').convert('L'), float)
    coin = np.asarray(Image.open(root / 'annotations/training/coins.png')) == 1
    assert img[coin].mean() > img[~coin].mean() + 40
    rgb = np.asarray(Image.open(root / 'images/training/rocket.jpg'), float)
    blue = np.asarray(Image.open(root / 'annotations/training/rocket.png')) == 5
    assert blue.mean() > 0.3 and (rgb[blue, 2] - rgb[blue, 0]).mean() > 30


def test_colour_rule__pure_colours():
    swatch = np.array([[[20, 20, 20], [250, 250, 250], [200, 40, 30], [30, 60, 220],
                        [128, 128, 128]]], np.uint8).repeat(9, 0).repeat(9, 1)
    labels = colour_labels(swatch)[4, 4::9]
    names = ['other' if v == 0 else TINY_ADE_CLASSES[v - 1] for v in labels]
    assert names == ['dark', 'light', 'warm', 'blue', 'other']


def test_writer__is_deterministic(tiny_ade, tmp_path):
    root, _ = tiny_ade
    write_tiny_ade(tmp_path)
    digest = lambda r: sorted((p.relative_to(r).as_posix(), hashlib.md5(p.read_bytes())
                               .hexdigest()) for p in r.rglob('*.*'))
    assert digest(tmp_path) == digest(root)


def test_mmseg_reads_it_with_the_ade_pipeline__other_becomes_ignore(tiny_ade):
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS
    root, _ = tiny_ade
    init_default_scope('mmseg')
    dataset = DATASETS.build(dict(
        type='BaseSegDataset', data_root=str(root), reduce_zero_label=True,
        metainfo=TINY_ADE_METAINFO, img_suffix='.jpg', seg_map_suffix='.png',
        data_prefix=dict(img_path='images/validation', seg_map_path='annotations/validation'),
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='LoadAnnotations', reduce_zero_label=True)]))
    assert len(dataset) == 5 and dataset.metainfo['classes'] == TINY_ADE_CLASSES
    sample = dataset[0]
    raw = np.asarray(Image.open(sample['seg_map_path']))
    seg = sample['gt_seg_map']
    assert (seg[raw == 0] == 255).all() and (seg[raw > 0] == raw[raw > 0] - 1).all()
