"""Skipped unreadable images are counted per dataset, and the counts of data loader
worker processes and of ranks reach the process that reports them."""
import os
import shutil
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.distributed as dist
from mmengine.dataset import default_collate
from mmengine.logging import MessageHub, MMLogger

from mmmim.datasets import ImageFolder, LoadImageSafely
from mmmim.engine.hooks.skipped_images_hook import SKIPPED_KEY, SkippedImagesHook, dataset_skips

PIPELINE = [dict(type='LoadImageSafely'), dict(type='Resize', scale=(32, 32)),
            dict(type='PackInputs')]


def folder_with_broken(root: Path, photos_dir: Path, broken: dict) -> Path:
    """Six demo photographs plus the broken files ``{name: bytes}``."""
    root.mkdir()
    for name in ['chelsea.jpg', 'camera.png', 'coins.png', 'rocket.jpg', 'page.png',
                 'moon.jpg']:
        shutil.copy(photos_dir / name, root / name)
    for name, data in broken.items():
        (root / name).write_bytes(data)
    return root


def test_skips__counted_per_dataset_over_two_worker_processes(
        tmp_path, demo_images_dir, mmengine_log):
    """Folder A: 6 photographs + a JPEG cut in half (sorted first: worker 0's batch)
    and a text file named .png (sorted last: worker 1's batch); folder B: 6 + one
    empty file. One epoch each with two worker processes: each dataset's count, read
    in this process, equals the skips its workers logged, and only its own."""
    jpeg = (demo_images_dir / 'astronaut.jpg').read_bytes()
    a = folder_with_broken(tmp_path / 'a', demo_images_dir, {
        'aa_cut.jpg': jpeg[:len(jpeg) // 3], 'zz_text.png': b'not an image\n' * 20})
    b = folder_with_broken(tmp_path / 'b', demo_images_dir, {'empty.jpg': b''})
    datasets = {a: ImageFolder(data_root=str(a), pipeline=PIPELINE),
                b: ImageFolder(data_root=str(b), pipeline=PIPELINE)}
    for dataset in datasets.values():
        loader = torch.utils.data.DataLoader(dataset, batch_size=2, num_workers=2,
                                             collate_fn=default_collate)
        assert sum(len(batch['inputs']) for batch in loader) == len(dataset)
    for root, dataset in datasets.items():
        logged = [m for m in mmengine_log
                  if m.startswith('LoadImageSafely: skipped') and str(root) + os.sep in m]
        assert dataset_skips(dataset) == len(logged), logged
        if root == a:
            assert len(logged) >= 2
            assert any('data loader worker 0' in m for m in logged)
            assert any('data loader worker 1' in m for m in logged)
        else:
            assert len(logged) >= 1


def test_skips__a_subset_copy_counts_on_its_own(tmp_path, demo_images_dir):
    root = folder_with_broken(tmp_path / 'a', demo_images_dir, {'aa_empty.jpg': b''})
    dataset = ImageFolder(data_root=str(root), pipeline=[LoadImageSafely()])
    subset = dataset.get_subset([0])
    assert dataset_skips(subset) == 0
    assert dataset.prepare_data(0) is None  # aa_empty.jpg sorts first
    assert dataset_skips(dataset) == 1 and dataset_skips(subset) == 0


def _rank_reports(rank: int, store: str, out: str) -> None:
    """One rank of a 2-process gloo group: rank r's dataset skipped r + 1 images."""
    dist.init_process_group('gloo', init_method=f'file://{store}', rank=rank, world_size=2)
    loader = LoadImageSafely()
    loader.skipped.shared_total.add(rank + 1)
    dataset = SimpleNamespace(skipped_images=[loader.skipped])
    hub = MessageHub.get_instance(f'skips_{rank}')
    runner = SimpleNamespace(train_dataloader=SimpleNamespace(dataset=dataset),
                             message_hub=hub, logger=MMLogger.get_instance(f'skips_{rank}'))
    hook = SkippedImagesHook()
    hook.before_train(runner)
    hook.after_train_epoch(runner)
    with open(f'{out}.{rank}', 'w') as f:
        f.write(str(hub.get_info(SKIPPED_KEY)))
    dist.destroy_process_group()


def test_skipped_images_hook__sums_the_ranks(tmp_path):
    """Two gloo ranks whose datasets skipped 1 and 2 images both record 3."""
    store = tempfile.mktemp(dir=tmp_path)
    out = str(tmp_path / 'total')
    torch.multiprocessing.start_processes(_rank_reports, args=(store, out), nprocs=2,
                                          start_method='fork')
    assert [Path(f'{out}.{r}').read_text() for r in (0, 1)] == ['3', '3']


@pytest.mark.parametrize('num_workers', [0, 2])
def test_skipped_images_hook__reports_the_run_total_in_log_and_message_hub(
        tmp_path, demo_images_dir, num_workers):
    root = folder_with_broken(tmp_path / 'a', demo_images_dir, {'empty.jpg': b''})
    dataset = ImageFolder(data_root=str(root), pipeline=PIPELINE)
    loader = torch.utils.data.DataLoader(dataset, batch_size=7, num_workers=num_workers,
                                         collate_fn=default_collate)
    list(loader)
    hub = MessageHub.get_instance(f'skips_run_{num_workers}')
    hub.update_info(SKIPPED_KEY, 5)  # the resumed checkpoint's count
    messages = []
    logger = SimpleNamespace(warning=messages.append)
    runner = SimpleNamespace(train_dataloader=SimpleNamespace(dataset=dataset),
                             message_hub=hub, logger=logger)
    hook = SkippedImagesHook()
    hook.before_train(runner)
    hook.after_train_epoch(runner)
    skipped = dataset_skips(dataset)
    assert skipped >= 1
    assert hub.get_info(SKIPPED_KEY) == 5 + skipped
    assert messages and f'{5 + skipped} unreadable images skipped so far' in messages[0]
    hook.after_train_epoch(runner)
    assert len(messages) == 1  # no new skips, no new line
