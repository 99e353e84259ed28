"""Demo data: every bundled scikit-image photograph is written once, as itself (grayscale
kept grayscale), idempotently; the tool prints what it wrote and can add a labeled copy."""
import hashlib
import importlib.util
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmmim.datasets.demo import DEMO_HELDOUT, DEMO_PHOTOS, write_demo_images

TOOL = Path(__file__).parents[2] / 'tools' / 'dataset_converters' / 'prepare_demo_images.py'


def test_demo_images__one_distinct_file_per_bundled_photo(demo_images_dir):
    files = sorted(p.name for p in demo_images_dir.iterdir())
    assert files == sorted(p.filename for p in DEMO_PHOTOS)
    digests = {hashlib.sha1(p.read_bytes()).hexdigest() for p in demo_images_dir.iterdir()}
    assert len(digests) == len(DEMO_PHOTOS)  # no photo twice (skimage's cat is chelsea)


def test_demo_images__grayscale_kept_grayscale_and_content_preserved(demo_images_dir):
    for photo in DEMO_PHOTOS:
        original = photo.load()
        with Image.open(demo_images_dir / photo.filename) as img:
            assert img.mode == ('L' if original.ndim == 2 else 'RGB'), photo.name
            written = np.asarray(img)
        assert np.abs(written.astype(int) - original).mean() < 4, photo.name  # JPEG loss


def test_write_demo_images__idempotent_keeps_existing_files(tmp_path):
    first = write_demo_images(tmp_path, names=['coins', 'chelsea'])
    stamps = [p.stat().st_mtime_ns for p in first]
    assert write_demo_images(tmp_path, names=['coins', 'chelsea']) == first
    assert [p.stat().st_mtime_ns for p in first] == stamps
    assert sorted(p.name for p in tmp_path.iterdir()) == ['chelsea.jpg', 'coins.png']


def test_write_demo_images__unknown_name_rejected_naming_it(tmp_path):
    with pytest.raises(ValueError, match="'lena'"):
        write_demo_images(tmp_path, names=['lena'])


def test_prepare_demo_images_tool__prints_every_file_holds_out_a_split_and_labels_a_copy(
        tmp_path, capsys):
    spec = importlib.util.spec_from_file_location('prepare_demo_images', TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out_dir = tmp_path / 'demo'
    paths = tool.main([str(out_dir), '--with-classes'])
    printed = capsys.readouterr().out
    assert all(str(p) in printed for p in paths)
    heldout = sorted(p.stem for p in (tmp_path / 'demo_heldout').iterdir())
    assert heldout == sorted(DEMO_HELDOUT)
    assert not {p.stem for p in out_dir.iterdir()} & set(heldout)
    assert len(list(out_dir.iterdir())) + len(heldout) == len(DEMO_PHOTOS)
    classes_dir = tmp_path / 'demo_classes'
    lines = (classes_dir / 'meta' / 'train.txt').read_text().splitlines()
    assert len(lines) == len(DEMO_PHOTOS)
    assert all((classes_dir / 'train' / line.split()[0]).is_file() for line in lines)
