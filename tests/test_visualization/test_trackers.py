"""The held-out check and the experiment trackers in a tiny training run (the MAE demo
config shrunk to 32 px, 2 epochs, the check after each): TensorBoard, Weights & Biases
(offline) and MLflow (a local file store) receive the check's scalars, the loss and the
reconstruction figures; nothing touches the network."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tests' / 'test_engine'))

from engine_runs import tiny_demo_cfg  # noqa: E402

HELDOUT_KEYS = ('heldout/mse_model', 'heldout/mse_visible_mean', 'heldout/mse_interpolation',
                'heldout/mse_mean_colour', 'heldout/model_over_visible_mean',
                'heldout/model_over_interpolation', 'heldout/model_over_mean_colour')


def tracker_backends():
    """Every tracker backend whose package is installed (the others are skipped)."""
    backends = [dict(type='LocalVisBackend')]
    for package, backend in [
            ('tensorboard', dict(type='TensorboardVisBackend')),
            ('wandb', dict(type='WandbVisBackend', init_kwargs=dict(mode='offline'))),
            ('mlflow', dict(type='LocalMLflowVisBackend'))]:
        try:
            __import__(package)
        except ImportError:
            continue
        backends.append(backend)
    return backends


@pytest.fixture(scope='module')
def checked_run(small_photos_dir, tmp_path_factory):
    """``(runner, vis_data folder)`` of 2 epochs of 3 iterations with the held-out check
    (on 4 of the photographs) after each epoch and a figure every 3 iterations."""
    from mmengine.runner import Runner
    heldout = tmp_path_factory.mktemp('heldout')
    for photo in sorted(small_photos_dir.iterdir())[:4]:
        (heldout / photo.name).write_bytes(photo.read_bytes())
    work_dir = tmp_path_factory.mktemp('tracked_run')
    cfg = tiny_demo_cfg(small_photos_dir, work_dir, max_epochs=2, ckpt_interval=1000, **{
        'train_cfg.val_interval': 1, 'custom_hooks.2.interval': 3,
        'val_dataloader.dataset.data_root': str(heldout),
        'val_dataloader.dataset.pipeline.1.scale': 32,
        'val_dataloader.dataset.pipeline.2.crop_size': 32,
        'vis_backends': tracker_backends(),
        'visualizer.vis_backends': tracker_backends()})
    with pytest.MonkeyPatch.context() as env:
        for name, value in [('WANDB_MODE', 'offline'), ('WANDB_SILENT', 'true'),
                            ('WANDB_DISABLE_GIT', 'true'), ('WANDB_CONSOLE', 'off'),
                            ('WANDB_DIR', str(work_dir))]:
            env.setenv(name, value)
        runner = Runner.from_cfg(cfg)
        runner.train()  # the logger hook closes the trackers after the run
    (vis_data,) = work_dir.glob('*/vis_data')
    return runner, vis_data


def heldout_records(vis_data: Path):
    lines = (vis_data / 'scalars.json').read_text().splitlines()
    return [r for r in map(json.loads, lines) if 'heldout/mse_model' in r]


def test_heldout_check__logs_model_and_baselines_each_epoch_with_fixed_masks(checked_run):
    records = heldout_records(checked_run[1])
    assert len(records) == 2 and all(set(HELDOUT_KEYS) <= set(r) for r in records)
    # the same seeded masks at both checks: the baselines (model-free) repeat exactly
    for key in ('heldout/mse_visible_mean', 'heldout/mse_interpolation',
                'heldout/mse_mean_colour'):
        assert records[0][key] == records[1][key]
    assert records[0]['heldout/mse_model'] != records[1]['heldout/mse_model']
    for r in records:
        assert r['heldout/model_over_interpolation'] == pytest.approx(
            r['heldout/mse_model'] / r['heldout/mse_interpolation'], rel=1e-3)


def test_heldout_check__leaves_the_training_random_states_untouched(checked_run, monkeypatch):
    import torch
    runner, _ = checked_run
    monkeypatch.setattr(runner, 'call_hook', lambda *args, **kwargs: None)  # trackers closed
    before = torch.random.get_rng_state()
    metrics = runner.val_loop.run()
    assert torch.equal(torch.random.get_rng_state(), before)
    assert metrics['heldout/mse_model'] > 0


def test_tensorboard__event_file_has_the_check_the_loss_and_the_figure(checked_run):
    pytest.importorskip('tensorboard')
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    events = EventAccumulator(str(checked_run[1]), size_guidance={'images': 0}).Reload()
    tags = events.Tags()
    assert set(HELDOUT_KEYS) | {'loss'} <= set(tags['scalars'])
    assert len(events.Scalars('heldout/mse_model')) == 2
    assert 'reconstruction' in tags['images']


def test_wandb_offline__run_file_has_the_check_and_the_loss_and_the_figures(checked_run):
    pytest.importorskip('wandb')
    (run,) = checked_run[1].glob('wandb/offline-run-*')
    assert len(list((run / 'files' / 'media' / 'images').glob('reconstruction_*.png'))) == 3
    # the history records keep each key as a plain protobuf string (no reader for
    # offline run files ships with wandb); both checks logged every key
    (records,) = run.glob('run-*.wandb')
    data = records.read_bytes()
    for key in HELDOUT_KEYS:
        assert data.count(key.encode()) >= 2, key
    assert b'\x12\x04loss' in data  # the key 'loss' as a length-prefixed field


def test_mlflow_file_store__has_the_check_the_loss_and_the_figures(checked_run):
    pytest.importorskip('mlflow')
    (metrics,) = checked_run[1].glob('*/*/metrics')
    for key in HELDOUT_KEYS:
        assert len((metrics / key).read_text().splitlines()) == 2, key
    assert (metrics / 'loss').is_file()
    images = list((metrics.parent / 'artifacts' / 'images').glob('reconstruction+step+*.png'))
    assert len(images) >= 2  # before training and after iterations 3 and 6


def test_local_mlflow_backend__file_uri_store_gets_an_image_outside_a_runner(tmp_path):
    pytest.importorskip('mlflow')
    from mmengine.visualization import Visualizer
    vis = Visualizer(name=f'mlflow_unit_{tmp_path.name}', save_dir=str(tmp_path),
                     vis_backends=[dict(type='mmmim.LocalMLflowVisBackend',
                                        tracking_uri=f'file:{tmp_path}/mlruns')])
    vis.add_image('reconstruction', np.zeros((8, 8, 3), np.uint8), step=5)
    vis.add_scalars({'heldout/mse_model': 1.5}, step=5)
    vis.close()
    assert list(tmp_path.glob('mlruns/*/*/artifacts/images/reconstruction+step+5+*.png'))
    assert list(tmp_path.glob('mlruns/*/*/metrics/heldout/mse_model'))
