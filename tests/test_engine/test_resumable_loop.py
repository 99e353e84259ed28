"""Exact mid-epoch resume: ResumableEpochBasedTrainLoop + ResumableSampler +
RandomStateHook continue an interrupted run as if it had never stopped."""
import pytest
import torch
from engine_doubles import Interrupted, TestParamSnapshotHook, TestRecordHook, TestStopAfterHook
from engine_runs import build, checkpoints, run, tiny_demo_cfg, train
from mmengine.dataset import DefaultSampler

from mmmim.engine import ResumableSampler


def test_resumable_sampler__start_skips_exactly_the_first_indices_of_one_pass():
    data = list(range(10))
    full = DefaultSampler(data, shuffle=True, seed=3)
    sampler = ResumableSampler(data, shuffle=True, seed=3)
    for epoch in (0, 1):
        full.set_epoch(epoch)
        sampler.set_epoch(epoch)
        assert list(sampler) == list(full)  # same order as DefaultSampler
    sampler.set_start(4)
    assert list(sampler) == list(full)[4:]
    assert list(sampler) == list(full)  # the offset applies to one pass only
    assert len(sampler) == 10
    with pytest.raises(ValueError, match='outside'):
        sampler.set_start(11)


@pytest.mark.parametrize('stop_after', [4, 3], ids=['mid_epoch', 'epoch_end'])
def test_resume__same_losses_batches_and_weights_as_uninterrupted_run(
        small_photos_dir, tmp_path, stop_after):
    """12 images, batch 4: 3 iterations per epoch, 2 epochs, a checkpoint every
    iteration. A run crashes right after iteration ``stop_after`` (4: one batch into
    epoch 2; 3: at the end of epoch 1) and is resumed with ``resume=True``. Random
    crops, flips and masks are drawn from the global generators (no worker
    processes), so every per-iteration loss must equal the uninterrupted run's
    exactly, the batches must hold the same images (none seen twice), and the final
    weights must be identical."""
    full_record, full_params = TestRecordHook(), TestParamSnapshotHook()
    run(tiny_demo_cfg(small_photos_dir, tmp_path / 'full', ckpt_interval=1),
        [full_record, full_params])

    cfg = tiny_demo_cfg(small_photos_dir, tmp_path / 'crashed', ckpt_interval=1)
    first = TestRecordHook()
    with pytest.raises(Interrupted):
        train(build(cfg, [first, TestStopAfterHook(stop_after)]))
    assert f'iter_{stop_after}.pth' in checkpoints(tmp_path / 'crashed')
    rest, rest_params = TestRecordHook(), TestParamSnapshotHook()
    run(cfg, [rest, rest_params], resume=True)

    resumed = first.records + rest.records
    assert [r['iter'] for r in resumed] == list(range(6))
    assert [(r['epoch'], r['batch_idx']) for r in resumed] == \
        [(r['epoch'], r['batch_idx']) for r in full_record.records]
    assert [r['paths'] for r in resumed] == [r['paths'] for r in full_record.records]
    for epoch in (0, 1):  # every image once per epoch
        seen = [p for r in resumed if r['epoch'] == epoch for p in r['paths']]
        assert len(seen) == len(set(seen)) == 12
    assert [r['loss'] for r in resumed] == [r['loss'] for r in full_record.records]
    assert torch.equal(rest_params.after[5], full_params.after[5])


def test_no_resume__same_run_as_mmengine_epoch_based_loop(small_photos_dir, tmp_path):
    """Without a resume the loop and sampler change nothing: the same losses and
    batches as mmengine's EpochBasedTrainLoop with DefaultSampler."""
    ours, stock = TestRecordHook(), TestRecordHook()
    run(tiny_demo_cfg(small_photos_dir, tmp_path / 'ours', max_epochs=1), [ours])
    run(tiny_demo_cfg(small_photos_dir, tmp_path / 'stock', max_epochs=1, **{
        'train_cfg.type': 'EpochBasedTrainLoop',
        'train_dataloader.sampler.type': 'DefaultSampler'}), [stock])
    assert [r['paths'] for r in ours.records] == [r['paths'] for r in stock.records]
    assert [r['loss'] for r in ours.records] == [r['loss'] for r in stock.records]
