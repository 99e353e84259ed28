"""Tar shards: make_shards.py writes them, TarShardDataset reads them map-style with the
folder's indices, so batches, skips and exact resume are the folder's."""
import json
import os
import signal
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from killed_runs import start_until
from mmengine.dataset import DefaultSampler, default_collate
from PIL import Image

from mmmim.datasets import ImageFolder, ImageLoadError, TarShardDataset
from mmmim.datasets.tar_shards import parse_member_path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tools' / 'dataset_converters'))
import make_shards  # noqa: E402

PIPELINE = [dict(type='LoadImageSafely'),
            dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.2, 1.0),
                 backend='pillow', interpolation='bicubic'),
            dict(type='RandomFlip', prob=0.5), dict(type='PackInputs')]


def write_shards(src, out, *options) -> dict:
    """Run make_shards.py's main on ``src``; returns the index it wrote."""
    make_shards.main([str(src), str(out), *options])
    return json.loads((Path(out) / 'index.json').read_text())


def batches(dataset, seed: int = 3, batch_size: int = 4):
    """One shuffled epoch of collated batches, augmentation drawn from numpy seed 0."""
    np.random.seed(0)
    order = list(DefaultSampler(dataset, shuffle=True, seed=seed))
    return [default_collate([dataset[i] for i in order[s:s + batch_size]])
            for s in range(0, len(order), batch_size)]


def test_folder_and_shards__same_batches_same_seed(small_photos_dir, tmp_path):
    """12 photographs in shards of 5 (three shards, the last short): the shuffled,
    randomly cropped and flipped batches equal the folder's exactly, same files."""
    index = write_shards(small_photos_dir, tmp_path / 'shards', '--shard-size', '5')
    assert [s['num_samples'] for s in index['shards']] == [5, 5, 2]
    folder = ImageFolder(data_root=str(small_photos_dir), pipeline=PIPELINE)
    shards = TarShardDataset(data_root=str(tmp_path / 'shards'), pipeline=PIPELINE)
    assert len(shards) == len(folder) == 12
    for a, b in zip(batches(folder), batches(shards)):
        assert torch.equal(a['inputs'], b['inputs'])
        assert [os.path.basename(s.img_path) for s in a['data_samples']] == \
            [parse_member_path(s.img_path)[3] for s in b['data_samples']]


def test_labels__class_folders_give_cls_members_and_gt_labels(tmp_path):
    for i, cls in enumerate(['cat', 'cat', 'dog']):
        (tmp_path / 'src' / cls).mkdir(parents=True, exist_ok=True)
        Image.new('RGB', (8, 6), (i * 50, 0, 0)).save(tmp_path / 'src' / cls / f'{i}.png')
    index = write_shards(tmp_path / 'src', tmp_path / 'out', '--shard-size', '8',
                         '--with-label')
    assert index['classes'] == ['cat', 'dog']
    assert index['shards'][0]['labels'] == [0, 0, 1]
    import tarfile
    with tarfile.open(tmp_path / 'out' / 'shard-000000.tar') as tar:
        assert tar.extractfile('dog/2.cls').read() == b'1'
    dataset = TarShardDataset(data_root=str(tmp_path / 'out'), with_label=True)
    assert [dataset.get_data_info(i)['gt_label'] for i in range(3)] == [0, 0, 1]
    assert dataset.metainfo['classes'] == ('cat', 'dog')


def test_max_side__large_images_resized_and_stated_small_ones_kept(tmp_path):
    (tmp_path / 'src').mkdir()
    Image.new('RGB', (120, 60), (200, 10, 10)).save(tmp_path / 'src' / 'big.png')
    small = tmp_path / 'src' / 'small.png'
    Image.new('RGB', (30, 20), (10, 200, 10)).save(small)
    index = write_shards(tmp_path / 'src', tmp_path / 'out', '--shard-size', '8',
                         '--max-side', '40')
    assert (index['max_side'], index['jpeg_quality'], index['resized']) == (40, 95, 1)
    assert index['shards'][0]['members'] == ['big.jpg', 'small.png']
    dataset = TarShardDataset(data_root=str(tmp_path / 'out'),
                              pipeline=[dict(type='LoadImageSafely')])
    assert dataset[0]['img'].shape == (20, 40, 3)
    from mmengine import fileio
    assert fileio.get(dataset.get_data_info(1)['img_path']) == small.read_bytes()


def test_corrupt_member__skipped_and_named_like_a_corrupt_file(tmp_path, mmengine_log):
    (tmp_path / 'src').mkdir()
    Image.new('RGB', (8, 8)).save(tmp_path / 'src' / 'a.png')
    garbage = b'\xff\xd8 not really a jpeg'
    (tmp_path / 'src' / 'b.jpg').write_bytes(garbage)
    write_shards(tmp_path / 'src', tmp_path / 'out', '--shard-size', '8')
    dataset = TarShardDataset(data_root=str(tmp_path / 'out'),
                              pipeline=[dict(type='LoadImageSafely')])
    bad = dataset.get_data_info(1)['img_path']
    shard, _, size, name = parse_member_path(bad)
    assert (os.path.basename(shard), size, name) == ('shard-000000.tar', len(garbage), 'b.jpg')
    assert dataset[1]['img_path'] == dataset.get_data_info(0)['img_path']  # refetched
    assert any(f'skipped {bad}: not a known image format' in m for m in mmengine_log)
    assert dataset.skipped_images[0].total == 1
    strict = TarShardDataset(data_root=str(tmp_path / 'out'),
                             pipeline=[dict(type='LoadImageSafely', on_error='raise')])
    with pytest.raises(ImageLoadError, match='b.jpg'):
        strict[1]


def test_truncated_shard__refused_at_construction_naming_it(small_photos_dir, tmp_path):
    write_shards(small_photos_dir, tmp_path / 'out', '--shard-size', '12')
    shard = tmp_path / 'out' / 'shard-000000.tar'
    shard.write_bytes(shard.read_bytes()[:3000])
    with pytest.raises(ValueError, match='shard-000000.tar is 3000 bytes'):
        TarShardDataset(data_root=str(tmp_path / 'out'))


def test_remote_shard__fetched_once_into_cache_dir_through_fileio(small_photos_dir,
                                                                   tmp_path):
    """A shard path with a backend prefix (a test backend serving local files) is read
    through mmengine's fileio once, then from ``cache_dir``."""
    from mmengine.fileio.backends import LocalBackend, register_backend

    calls = []

    class CountingBackend(LocalBackend):
        def get(self, filepath):
            calls.append(filepath)
            return super().get(str(filepath).replace('h15test://', ''))

    register_backend('h15test', CountingBackend, force=True, prefixes='h15test')
    index = write_shards(small_photos_dir, tmp_path / 'out', '--shard-size', '12')
    index['shards'][0]['file'] = 'h15test://' + str(tmp_path / 'out' / 'shard-000000.tar')
    (tmp_path / 'out' / 'remote.json').write_text(json.dumps(index))
    dataset = TarShardDataset(
        data_root=str(tmp_path / 'out'), ann_file='remote.json', pipeline=[dict(
            type='LoadImageSafely', backend_args=dict(cache_dir=str(tmp_path / 'cache')))])
    local = TarShardDataset(data_root=str(tmp_path / 'out'),
                            pipeline=[dict(type='LoadImageSafely')])
    for i in (0, 5):
        np.testing.assert_array_equal(dataset[i]['img'], local[i]['img'])
    assert len(calls) == 1 and os.listdir(tmp_path / 'cache')


# ---- exact mid-epoch resume after SIGKILL --------------------------------------------

def shard_cfg(photos, shards, work_dir):
    """engine_runs' tiny demo run (12 images, batch 4, one epoch: 3 iterations, a
    checkpoint each) reading the shards of ``photos``."""
    from engine_runs import tiny_demo_cfg
    return tiny_demo_cfg(photos, work_dir, max_epochs=1, ckpt_interval=1, **{
        'train_dataloader.dataset.type': 'TarShardDataset',
        'train_dataloader.dataset.data_root': str(shards)})


def test_sigkill_mid_epoch_then_resume__equals_uninterrupted_run_on_shards(
        small_photos_dir, tmp_path):
    """Trained in a subprocess on the shards, SIGKILLed while saving iteration 2's
    checkpoint (mid-epoch), resumed from iteration 1's: the batches (file names) and
    losses of the three iterations equal an uninterrupted run's exactly, and the
    uninterrupted run's batches are the folder run's."""
    sys.path.insert(0, str(ROOT / 'tests' / 'test_engine'))
    from engine_doubles import TestRecordHook
    from engine_runs import run, tiny_demo_cfg
    shards = tmp_path / 'shards'
    write_shards(small_photos_dir, shards, '--shard-size', '5')
    full = TestRecordHook()
    run(shard_cfg(small_photos_dir, shards, tmp_path / 'full'), [full])
    folder = TestRecordHook()
    run(tiny_demo_cfg(small_photos_dir, tmp_path / 'folder', max_epochs=1, ckpt_interval=1),
        [folder])
    assert [r['paths'] for r in full.records] == [r['paths'] for r in folder.records]

    work_dir, records = tmp_path / 'killed', tmp_path / 'records'
    work_dir.mkdir()
    records.mkdir()
    _killed_during_save(small_photos_dir, shards, work_dir, records, at_iter=2)
    first = [json.loads(line) for line in (records / 'rank0.jsonl').read_text().splitlines()]
    assert [r['iter'] for r in first] == [0]  # killed inside iteration 2's hooks
    rest = TestRecordHook()
    run(shard_cfg(small_photos_dir, shards, work_dir), [rest], resume=True)
    resumed = first + rest.records  # resumed from iter_1.pth
    assert [r['iter'] for r in resumed] == [0, 1, 2]
    assert [r['paths'] for r in resumed] == [r['paths'] for r in full.records]
    assert [r['loss'] for r in resumed] == [r['loss'] for r in full.records]


def _killed_during_save(photos, shards, work_dir: Path, records: Path, at_iter: int):
    """Train in a subprocess and SIGKILL it while it saves iteration ``at_iter``."""
    signal_file = work_dir.parent / 'saving'
    script = textwrap.dedent(f'''
        from engine_doubles import TestHangInSaveHook, TestRecordHook
        from engine_runs import build, train
        from test_tar_shards import shard_cfg
        cfg = shard_cfg({str(photos)!r}, {str(shards)!r}, {str(work_dir)!r})
        train(build(cfg, [TestRecordHook({str(records)!r}),
                          TestHangInSaveHook({at_iter}, {str(signal_file)!r}, 1)]))
    ''')
    tests = ROOT / 'tests'
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=os.pathsep.join(
        [str(tests / 'test_datasets'), str(tests / 'test_engine'), str(tests), str(ROOT),
         str(ROOT / 'tools' / 'dataset_converters')]))
    process = start_until(script, env, signal_file, work_dir.parent / 'output.txt')
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL


def test_shards_config__its_train_dataset_reads_shard_members(small_photos_dir, tmp_path):
    """configs/_base_/datasets/imagenet_pretrain_shards.py's train dataset (the base's
    pipeline, whatever its loading transform) on shards: 224 px crops, the photos."""
    from mmengine.config import Config

    from mmmim.registry import DATASETS
    write_shards(small_photos_dir, tmp_path / 'shards', '--shard-size', '5')
    cfg = Config.fromfile(str(ROOT / 'configs/_base_/datasets/imagenet_pretrain_shards.py'))
    dataset = DATASETS.build(dict(cfg.train_dataloader.dataset,
                                  data_root=str(tmp_path / 'shards')))
    assert len(dataset) == 12
    sample = dataset[7]
    assert sample['inputs'].shape == (3, 224, 224)
    assert parse_member_path(sample['data_samples'].img_path)[3] == \
        sorted(os.listdir(small_photos_dir))[7]


def test_two_ranks__each_gets_the_folder_ranks_files_and_together_all(
        small_photos_dir, tmp_path, monkeypatch):
    """ResumableSampler over the shards with world size 2 (rank taken from
    mmengine's get_dist_info, patched): each rank's files are the folder's for that
    rank, disjoint, covering all 12; a resume offset skips the same files."""
    import mmengine.dataset.sampler as sampler_module

    from mmmim.engine import ResumableSampler
    write_shards(small_photos_dir, tmp_path / 'shards', '--shard-size', '5')
    folder = ImageFolder(data_root=str(small_photos_dir))
    shards = TarShardDataset(data_root=str(tmp_path / 'shards'))

    def rank_files(dataset, rank, start=0):
        monkeypatch.setattr(sampler_module, 'get_dist_info', lambda: (rank, 2))
        sampler = ResumableSampler(dataset, shuffle=True, seed=5)
        sampler.set_epoch(1)
        sampler.set_start(start)
        return [parse_member_path(p)[3] if p.startswith('tarshard://') else
                os.path.basename(p) for p in
                (dataset.get_data_info(i)['img_path'] for i in sampler)]

    ranks = [rank_files(shards, r) for r in (0, 1)]
    assert ranks == [rank_files(folder, r) for r in (0, 1)]
    assert sorted(ranks[0] + ranks[1]) == sorted(os.listdir(small_photos_dir))
    assert rank_files(shards, 1, start=2) == rank_files(folder, 1, start=2) == ranks[1][2:]


def test_two_loader_workers__each_opens_its_own_shards_and_reads_every_image(
        small_photos_dir, tmp_path):
    """A DataLoader with 2 forked workers after the main process has read a member
    (its open shard descriptor inherited): every image arrives once, equal to the
    folder's decode."""
    from torch.utils.data import DataLoader
    write_shards(small_photos_dir, tmp_path / 'shards', '--shard-size', '5')
    pipeline = [dict(type='LoadImageSafely')]
    shards = TarShardDataset(data_root=str(tmp_path / 'shards'), pipeline=pipeline)
    folder = ImageFolder(data_root=str(small_photos_dir), pipeline=pipeline)
    shards[0]  # the main process opens shard 0 before forking
    loader = DataLoader(shards, batch_size=None, num_workers=2,
                        multiprocessing_context='fork')
    for i, sample in enumerate(loader):
        np.testing.assert_array_equal(sample['img'], folder[i]['img'])
    assert i == 11
