"""The held-out check's pieces: the metric's scalars, the loop without a held-out
folder, and the config snippet that adds the check to an ImageNet pretraining config.
(The check inside a training run: tests/test_visualization/test_trackers.py.)"""
from pathlib import Path
from types import SimpleNamespace

from mmengine.config import Config

ROOT = Path(__file__).resolve().parents[2]


def test_metric__ratios_and_the_borrowed_model_error_when_the_target_is_normalized():
    from mmmim.engine import MaskedUnitErrorMetric
    metric = MaskedUnitErrorMetric()
    base = dict(mean_colour=100., visible_mean=400., interpolation=200.)
    metric.process(None, [dict(errors=dict(base, model=100., model_true_stats=None)),
                          dict(errors=dict(base, model=300., model_true_stats=None))])
    scalars = metric.compute_metrics(metric.results)
    assert scalars['mse_model'] == 200. and scalars['model_over_interpolation'] == 1.
    assert scalars['model_over_visible_mean'] == .5 and scalars['model_over_mean_colour'] == 2.
    normalized = metric.compute_metrics([dict(base, model=None, model_true_stats=50.)])
    assert 'mse_model' not in normalized and normalized['mse_model_true_stats'] == 50.


def test_seeded_val_loop__missing_heldout_folder_warns_and_skips(mmengine_log):
    from mmmim.engine import SeededValLoop

    def no_folder(*args, **kwargs):
        raise FileNotFoundError('ImageFolder: data_root data/nowhere does not exist')
    runner = SimpleNamespace(_randomness_cfg={}, seed=0, build_dataloader=no_folder)
    loop = SeededValLoop(runner, dict(dataset=dict()), dict(type='MaskedUnitErrorMetric'))
    assert loop.run() == {}
    assert any('held-out check skipped' in line and 'val_dataloader.dataset.data_root'
               in line for line in mmengine_log)


def test_heldout_snippet__adds_only_the_check_to_an_imagenet_config(tmp_path):
    mae = ROOT / 'configs' / 'mae' / 'mae_vit-base-p16_8xb512-amp-coslr-400e_in1k.py'
    child = tmp_path / 'mae_with_check.py'
    child.write_text(f"_base_ = [{str(mae)!r}, {str(ROOT / 'configs/_base_/heldout_check.py')!r}]\n"
                     "train_cfg = dict(val_interval=10)\n")
    plain, checked = Config.fromfile(str(mae)), Config.fromfile(str(child))
    assert 'val_dataloader' not in plain and 'val_cfg' not in plain
    added = {'val_dataloader', 'val_evaluator', 'val_cfg', 'heldout_pipeline'}
    assert set(checked.keys()) - set(plain.keys()) == added
    for key in plain.keys():
        if key != 'train_cfg':
            assert checked[key] == plain[key], key
    assert checked.train_cfg == dict(plain.train_cfg, val_interval=10)
    assert checked.val_cfg.type == 'SeededValLoop'
    assert checked.val_evaluator.type == 'MaskedUnitErrorMetric'
    sizes = [t.get('scale', t.get('crop_size')) for t in checked.val_dataloader.dataset.pipeline]
    assert sizes[1:3] == [checked.model.encoder.get('img_size', 224)] * 2
