"""The digits experiment: every configs/digits/ config trains through tools/train.py on a
tiny digits folder until its CPU budget stops it, probed at the start and the stop;
tools/experiments/digits_claims.py reads the curves from the run's scalars.json and
checks the claims."""
import importlib.util
import math
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load(name: str, path: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


claims = load('digits_claims', 'tools/experiments/digits_claims.py')


@pytest.fixture(scope='module')
def tiny_digits(tmp_path_factory) -> Path:
    """3 digits per class and split of the converter's folder (30 train / 30 val)."""
    converter = load('make_digits_folder', 'tools/dataset_converters/make_digits_folder.py')
    full, tiny = tmp_path_factory.mktemp('digits'), tmp_path_factory.mktemp('tiny_digits')
    assert converter.write_digits_folder(str(full)) == {'train': 1198, 'val': 599}
    for folder in sorted(full.glob('*/*')):
        target = tiny / folder.relative_to(full)
        target.mkdir(parents=True)
        for image in sorted(folder.glob('*.png'))[:3]:
            shutil.copy(image, target / image.name)
    return tiny


def test_every_method_has_its_config():
    assert sorted(claims.METHODS.values()) == sorted(
        p.name for p in claims.CONFIGS.glob('*.py'))


# MAE (a ViT) and UM-MAE (a pyramid) in every run; the other five with the slow tests
FAST = ('mae', 'ummae')


@pytest.mark.parametrize('method', [
    m if m in FAST else pytest.param(m, marks=pytest.mark.slow) for m in claims.METHODS])
def test_digits_config__trains_via_train_tool_until_the_budget_stops_it(
        method, tiny_digits, tmp_path):
    """Batch 16: 2 iterations per epoch; a budget of a microsecond stops the run after
    its first epoch (of 3): 2 iterations, a checkpoint, a probe before and after."""
    config = claims.CONFIGS / claims.METHODS[method]
    hook = f'custom_hooks.{claims.budget_hook_index(config)}'
    train_tool = load('mmmim_train_tool_digits', 'tools/train.py')
    train_tool.main([str(config), '--work-dir', str(tmp_path), '--cfg-options',
                     'train_dataloader.batch_size=16', 'train_cfg.max_epochs=3',
                     'train_cfg.val_interval=1', 'param_scheduler.0.end=1',
                     'param_scheduler.1.begin=1', 'default_hooks.logger.interval=1',
                     'val_evaluator.per_class=2', f'{hook}.cpu_seconds=1e-6',
                     *claims.data_options(str(tiny_digits))])
    entries = claims.scalars(tmp_path)
    trained = [e for e in entries if 'loss' in e]
    assert [e['iter'] for e in trained] == [1, 2]
    assert all(math.isfinite(e['loss']) and e['cpu_s'] > 0 for e in trained)
    assert (tmp_path / 'epoch_1.pth').is_file()
    start, stop = claims.read_curve(tmp_path)
    assert (start['epoch'], start['iter'], stop['epoch'], stop['iter']) == (0, 0, 1, 2)
    # the probes are stamped with the training clock: 0 at the start, the stop's after
    assert start['cpu_s'] < 0.5 and 0 < stop['cpu_s'] - trained[-1]['cpu_s'] < 0.5
    assert all(0 <= p['all'] <= 1 and 0 <= p['few'] <= 1 for p in (start, stop))


def test_schedule__past_the_budget_with_10_percent_warm_up():
    assert claims.budget_epochs(budget=600., cost=3.) == 220
    options = claims.schedule_options(220, val_interval=22)
    assert options == ['train_cfg.max_epochs=220', 'param_scheduler.0.end=22',
                       'param_scheduler.1.begin=22', 'train_cfg.val_interval=22']


def test_epoch_cost__leaves_out_the_first_epoch():
    entries = [dict(epoch=1, cpu_s=5.), dict(epoch=2, cpu_s=7.), dict(step=2, cpu_s=7.),
               dict(epoch=3, cpu_s=9.5)]
    assert claims.epoch_cost(entries) == 2.25


def run(method, seed, accs, cost=10.):
    return dict(method=method, seed=seed, curve=[
        dict(epoch=i, iter=10 * i, cpu_s=cost * i, loss=1., all=a, few=a)
        for i, a in enumerate(accs)])


def test_report__reach_ratios_and_final_differences_give_the_verdicts():
    runs = [run('simmim', 0, [.5, .6, .7, .8]), run('ummae', 0, [.5, .7, .8, .85]),
            run('mae', 0, [.5, .6, .7, .8]), run('localmim', 0, [.5, .6, .7, .79]),
            run('pixmim', 0, [.5, .6, .7, .9]), run('pixmim', 1, [.5, .6, .7, .88]),
            run('mae', 1, [.5, .6, .7, .8])]
    text = claims.report(runs)
    assert "UM-MAE reaches SimMIM's probe in about half the CPU time: CPU-time ratio " \
           'per seed to the final probe 0.67, to the final gain over the random init ' \
           '0.67; CPU s per epoch ratio 1.00 -> does not hold' in text
    assert "LocalMIM reaches MAE's probe in fewer CPU seconds: CPU-time ratio per seed " \
           'to the final probe not reached, to the final gain over the random init not ' \
           'reached; CPU s per epoch ratio 1.00 -> does not hold' in text
    assert 'PixMIM >= MAE at the same budget: final probe difference +0.0900 (higher; ' \
           'spread 0.0100)' in text
    faster = claims.report([run('simmim', 0, [.5, .6, .7, .8], cost=20.),
                            run('ummae', 0, [.5, .8, .85, .9])])
    assert 'to the final probe 0.17, to the final gain over the random init 0.17; CPU s ' \
           'per epoch ratio 0.50 -> holds' in faster


def test_report__a_random_init_above_the_goal_is_judged_on_the_gain_over_init():
    """UM-MAE's init already probes above SimMIM's final top-1: reaching it measures
    the random features; reaching SimMIM's gain (+0.10) takes UM-MAE as long."""
    text = claims.report([run('simmim', 0, [.5, .55, .6]), run('ummae', 0, [.7, .72, .8])])
    assert 'to the final probe 0.50, to the final gain over the random init 1.00; CPU s ' \
           'per epoch ratio 1.00; the random init already probes at the final top-1 for ' \
           'seed(s) 0, so judged on the gain -> does not hold' in text


def test_report__combinations_compare_final_probe_and_gain_over_init():
    text = claims.report([run('ummae', 0, [.5, .7]), run('ummae', 1, [.5, .72]),
                          run('pixmim-ummae', 0, [.6, .75]), run('pixmim-ummae', 1, [.6, .77])])
    assert 'PixMIM targets on UM-MAE vs UM-MAE: final probe difference +0.0500 (higher; ' \
           'spread 0.0200); difference of the gains over the random init -0.0500 (lower; ' \
           'spread 0.0200).' in text


def write_scalars(work_dir: Path, entries) -> None:
    import json
    folder = work_dir / '20261207_000000' / 'vis_data'
    folder.mkdir(parents=True)
    (folder / 'scalars.json').write_text('\n'.join(json.dumps(e) for e in entries))


def test_resume__finished_runs_and_calibrations_are_kept(tmp_path, monkeypatch):
    """A resumed or split experiment trains nothing twice: a run is finished once a
    probe was taken at its budget or its last epoch, and a calibration's epoch cost is
    read back instead of rerun."""
    def no_training(*args, **kwargs):
        raise AssertionError('trained again')
    monkeypatch.setattr(claims, 'train', no_training)
    write_scalars(tmp_path / 'calibration', [dict(epoch=1, cpu_s=5.), dict(epoch=3, cpu_s=9.)])
    assert claims.calibrate('mae', tmp_path / 'calibration', 'data', threads=1) == 2.
    probe = dict(step=0, cpu_s=0., **{'probe/top1': .5})
    write_scalars(tmp_path / 'budget', [probe, dict(probe, step=9, cpu_s=600.2)])
    write_scalars(tmp_path / 'epochs', [probe, dict(probe, step=300, cpu_s=590.)])
    write_scalars(tmp_path / 'cut', [probe, dict(probe, step=100, cpu_s=200.)])
    assert claims.finished(tmp_path / 'budget', 600.)
    assert claims.finished(tmp_path / 'epochs', 600., epochs=300)
    assert not claims.finished(tmp_path / 'cut', 600., epochs=300)
    assert not claims.finished(tmp_path / 'never_started', 600.)


def test_run_all__a_run_out_of_epochs_before_its_budget_is_rerun_recalibrated(
        tmp_path, monkeypatch):
    """The 3-epoch calibration says 2 CPU s per epoch, a whole run costs 1.5: the first
    run (ceil(1.1 x 60 / 2) = 33 epochs) ends at 49.5 CPU s, short of the budget of 60;
    it is rerun with the run's own cost (44 epochs), which the budget stops, and the
    next seed starts from that schedule."""
    calls = []

    def fake_train(config, work_dir, options, threads):
        option = dict(o.split('=', 1) for o in options)
        epochs = int(option['train_cfg.max_epochs'])
        calls.append((work_dir.name, epochs))
        cost = 2. if work_dir.name == 'calibration' else 1.5
        budget = float(option.get('custom_hooks.4.cpu_seconds', 'inf'))
        entries, cpu = [dict(step=0, cpu_s=0., **{'probe/top1': .5})], 0.
        for epoch in range(1, epochs + 1):
            cpu += cost
            entries.append(dict(epoch=epoch, cpu_s=cpu))
            if cpu >= budget:
                break
        entries.append(dict(step=epoch, cpu_s=cpu, **{'probe/top1': .6}))
        write_scalars(work_dir, entries)
    monkeypatch.setattr(claims, 'train', fake_train)
    monkeypatch.setattr(claims, 'budget_hook_index', lambda config: 4)
    claims.run_all(['mae'], [0, 1], budget=60., evals=10, work_root=tmp_path,
                   data_root='data', threads=1, log=lambda line: None)
    assert calls == [('calibration', 3), ('seed0', 33), ('seed0', 44), ('seed1', 44)]
    assert claims.calibrate('mae', tmp_path / 'mae' / 'calibration', 'data', 1) == 1.5
    assert [claims.read_curve(tmp_path / 'mae' / s)[-1]['cpu_s'] for s in ('seed0', 'seed1')] \
        == [60., 60.]
