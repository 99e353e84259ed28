"""Session fixtures of the downstream tests: the tiny COCO data and tiny pretraining
/ classifier checkpoints per family (each written once per session)."""
from pathlib import Path
from typing import Callable, Dict

import pytest
from harness import tiny_classifier_checkpoint, tiny_pretraining_checkpoint


@pytest.fixture(scope='session')
def tiny_coco(tmp_path_factory) -> Path:
    """Root of the tiny COCO dataset (mimbench.tiny_data.coco), with a trailing
    ``/`` as mmdet's data_root strings have."""
    from mimbench.tiny_data.coco import write_tiny_coco
    root = tmp_path_factory.mktemp('tiny_coco')
    write_tiny_coco(root)
    return root


def _cached(factory: Callable[[str], Path]) -> Callable[[str], Path]:
    cache: Dict[str, Path] = {}

    def get(family: str) -> Path:
        if family not in cache:
            cache[family] = factory(family)
        return cache[family]
    return get


@pytest.fixture(scope='session')
def pretraining_checkpoint(tmp_path_factory, demo_images_dir) -> Callable[[str], Path]:
    """``family -> path`` of a raw mmmim checkpoint from a 2-iteration tiny
    pretraining run of that family ('swin', 'pvt', 'vit')."""
    return _cached(lambda family: tiny_pretraining_checkpoint(
        family, demo_images_dir, tmp_path_factory.mktemp(f'pretrain_{family}')))


@pytest.fixture(scope='session')
def classifier_checkpoint(tmp_path_factory, pretraining_checkpoint) -> Callable[[str], Path]:
    """``family -> path`` of the family's tiny fine-tune classifier (mmpretrain
    layout, ``backbone.*``) initialized from :func:`pretraining_checkpoint`."""
    return _cached(lambda family: tiny_classifier_checkpoint(
        family, pretraining_checkpoint(family),
        tmp_path_factory.mktemp(f'classifier_{family}') / 'classifier.pth'))
