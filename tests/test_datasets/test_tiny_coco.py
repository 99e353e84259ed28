"""The tiny COCO dataset made from scikit-image's photographs: valid COCO that mmdet
reads, real instances (polygon masks agree with the annotated areas and with the
semantic maps), deterministic, and written by the tool under OUT/coco."""
import json
import runpy
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mimbench.tiny_data.coco import STUFF_THING_CLASSES, TINY_COCO_METAINFO, write_tiny_coco

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp('tiny_coco')
    return root, write_tiny_coco(root)


@pytest.mark.parametrize('split', ['train', 'val'])
def test_tiny_coco__instances_are_real_and_consistent(tiny, split):
    from pycocotools.coco import COCO
    root, counts = tiny
    coco = COCO(str(root / f'annotations/instances_{split}2017.json'))
    assert len(coco.imgs) == counts[f'{split}_images'] >= 2
    assert len(coco.anns) == counts[f'{split}_instances'] >= 5
    names = [c['name'] for c in coco.loadCats(coco.getCatIds())]
    assert tuple(names) == TINY_COCO_METAINFO['classes']
    assert {a['category_id'] for a in coco.anns.values()} == set(coco.getCatIds())
    for ann in coco.anns.values():
        image = coco.imgs[ann['image_id']]
        assert min(image['height'], image['width']) >= 32
        assert len(ann['segmentation'][0]) >= 6 and ann['iscrowd'] == 0
        x, y, w, h = ann['bbox']
        assert w >= 1 and h >= 1 and x + w <= image['width'] and y + h <= image['height']
        mask = coco.annToMask(ann).astype(bool)
        assert abs(mask.sum() - ann['area']) <= 0.25 * ann['area'] + 8, ann['id']
        semantic = np.asarray(Image.open(
            root / f'stuffthingmaps/{split}2017' / image['file_name'].replace('.jpg', '.png')))
        label = STUFF_THING_CLASSES.index(names[ann['category_id'] - 1])
        assert np.mean(semantic[mask] == label) > 0.8  # the map agrees with the polygon


def test_tiny_coco__ids_unique_across_splits_and_maps_hold_known_labels(tiny):
    root, _ = tiny
    splits = [json.loads((root / f'annotations/instances_{s}2017.json').read_text())
              for s in ('train', 'val')]
    image_ids = [i['id'] for s in splits for i in s['images']]
    ann_ids = [a['id'] for s in splits for a in s['annotations']]
    assert len(set(image_ids)) == len(image_ids) and len(set(ann_ids)) == len(ann_ids)
    for path in root.glob('stuffthingmaps/*/*.png'):
        values = set(np.unique(np.asarray(Image.open(path))))
        assert values <= set(range(len(STUFF_THING_CLASSES))) | {255}, path


def test_tiny_coco__deterministic(tiny, tmp_path):
    root, _ = tiny
    write_tiny_coco(tmp_path)
    for name in ('instances_train2017.json', 'instances_val2017.json'):
        assert (tmp_path / 'annotations' / name).read_bytes() == \
            (root / 'annotations' / name).read_bytes()


def test_make_tiny_downstream_data__writes_each_dataset_under_its_name(tmp_path, capsys):
    tool = runpy.run_path(str(ROOT / 'tools/dataset_converters/make_tiny_downstream_data.py'))
    tool['main']([str(tmp_path), '--coco'])
    assert (tmp_path / 'coco/annotations/instances_val2017.json').is_file()
    assert 'coco: train_images' in capsys.readouterr().out
