"""The picture tools on a checkpoint of a tiny training run (the MAE demo config shrunk
to 32 px): the reconstruction tool and its old path, the training hook, the curve
plotter and the demo summary."""
import json
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tests' / 'test_engine'))

from engine_doubles import TestRecordHook  # noqa: E402
from engine_runs import run, tiny_demo_cfg  # noqa: E402

from mmmim.datasets.demo import DEMO_HELDOUT, DEMO_SHOWN_TRAIN, write_demo_images  # noqa: E402
from mmmim.visualization.canvas import GAP  # noqa: E402
from mmmim.visualization.curves import PALETTE  # noqa: E402
from mmmim.visualization.render import render_checkpoint  # noqa: E402

TOOL = ROOT / 'tools' / 'visualization' / 'visualize_reconstruction.py'
OLD_TOOL = ROOT / 'tools' / 'analysis_tools' / 'visualize_reconstruction.py'
ITERS = 45  # 15 epochs of 3 batches


def tiny_run_cfg(images_dir, work_dir, max_epochs=15, hook_interval=15, lr=3e-3):
    """The tiny demo at ``lr`` (3e-3: a short run that learns) reached by a linear
    warm-up over the whole run, a figure every ``hook_interval`` iterations."""
    return tiny_demo_cfg(images_dir, work_dir, max_epochs=max_epochs, ckpt_interval=1000, **{
        'param_scheduler': [dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0,
                                 end=max_epochs, convert_to_iter_based=True)],
        'custom_hooks.2.interval': hook_interval, 'optim_wrapper.optimizer.lr': lr,
        'default_hooks.checkpoint.save_last': True})


@pytest.fixture(scope='module')
def trained(small_photos_dir, tmp_path_factory):
    """``(work_dir, config file, checkpoint, image files)`` of a 45-iteration run."""
    work_dir = tmp_path_factory.mktemp('tiny_run')
    run(tiny_run_cfg(small_photos_dir, work_dir))
    config = work_dir / 'mae_vit-tiny_demo.py'  # the Runner's dump of the merged config
    checkpoint = work_dir / f'iter_{ITERS}.pth'
    assert config.is_file() and checkpoint.is_file()
    return work_dir, config, checkpoint, sorted(small_photos_dir.iterdir())[:3]


def run_tool(path: Path, *args) -> None:
    """Run a tool's ``__main__`` in this process; it must exit with status 0."""
    sys.argv = [str(path), *map(str, args)]
    with pytest.raises(SystemExit) as done:
        runpy.run_path(str(path), run_name='__main__')
    assert done.value.code in (0, None)


def crop(image: np.ndarray, box) -> np.ndarray:
    left, top, right, bottom = box
    return image[top:bottom, left:right]


def test_visualize_reconstruction__png_of_four_titled_panels_per_image(trained, tmp_path,
                                                                     capsys):
    work_dir, config, checkpoint, images = trained
    out = tmp_path / 'recon.png'
    run_tool(TOOL, config, checkpoint, *images, '--out', out, '--seed', '3')
    assert 'none borrowed' in capsys.readouterr().out
    png = np.asarray(Image.open(out).convert('RGB'))
    figure = render_checkpoint(config, str(checkpoint), images, str(tmp_path / 'again.png'), 3)
    assert np.array_equal(png, figure.image)  # the same seed draws the same masks
    panel = 32 * 2  # 32 px at zoom 2
    assert png.shape[1] == GAP + 4 * (panel + GAP)
    titles = [t for t, _ in figure.boxes]
    assert titles[1:4] == ['masked input', 'reconstruction, none borrowed',
                           '+ visible, none borrowed']
    assert len(figure.boxes) == 4 * len(images)
    for row in range(len(images)):
        boxes = [b for _, b in figure.boxes[4 * row:4 * row + 4]]
        assert all(crop(png, b).shape == (panel, panel, 3) for b in boxes)
        masked, recon, pasted = (crop(png, b) for b in boxes[1:])
        grey = (masked == 128).all(-1)
        assert grey.mean() > 0.5  # 75% of the units masked
        assert not np.array_equal(recon[grey], masked[grey])
        assert np.array_equal(pasted[~grey], masked[~grey])  # visible units pasted back


def test_visualize_reconstruction__old_path_forwards_to_the_tool(trained, tmp_path):
    _, config, checkpoint, images = trained
    out = tmp_path / 'old.png'
    run_tool(OLD_TOOL, config, checkpoint, images[0], '--out', out)
    assert Image.open(out).size[0] == GAP + 4 * (64 + GAP)


def test_trained_checkpoint__masked_unit_error_below_the_untrained_models(trained, tmp_path):
    _, config, checkpoint, images = trained
    trained_fig = render_checkpoint(config, str(checkpoint), images, str(tmp_path / 'a.png'))
    untrained = render_checkpoint(config, None, images, str(tmp_path / 'b.png'))
    assert trained_fig.mean_errors['model'] < 0.85 * untrained.mean_errors['model']


def test_reconstruction_hook__figures_in_work_dir_and_the_visualizer_backend(trained):
    work_dir = trained[0]
    figures = sorted(p.name for p in (work_dir / 'reconstructions').iterdir())
    assert figures == sorted(f'iter_{i}.png' for i in (0, 15, 30, 45))
    backend = list(work_dir.glob('*/vis_data/vis_image/reconstruction_45.png'))
    assert len(backend) == 1
    first = np.asarray(Image.open(work_dir / 'reconstructions' / 'iter_0.png'))
    last = np.asarray(Image.open(backend[0]))
    assert first.shape == last.shape and not np.array_equal(first, last)


def test_reconstruction_hook__leaves_the_training_random_state_untouched(small_photos_dir,
                                                                       tmp_path):
    """Random crops, flips and masks come from the global generators: a run drawing a
    figure after every iteration matches a run without the hook loss for loss."""
    with_hook, without = TestRecordHook(), TestRecordHook()
    small_lr = 4.6875e-5  # as the engine tests' exact comparisons (tiny_demo_cfg)
    run(tiny_run_cfg(small_photos_dir, tmp_path / 'a', 2, hook_interval=1, lr=small_lr),
        [with_hook])
    cfg = tiny_run_cfg(small_photos_dir, tmp_path / 'b', 2, lr=small_lr)
    cfg.custom_hooks = cfg.custom_hooks[:2]
    run(cfg, [without])
    assert len(list((tmp_path / 'a' / 'reconstructions').iterdir())) == 7
    assert [r['loss'] for r in with_hook.records] == [r['loss'] for r in without.records]
    assert [r['paths'] for r in with_hook.records] == [r['paths'] for r in without.records]


def analyze_logs(*args):
    module = runpy.run_path(str(ROOT / 'tools' / 'analysis_tools' / 'analyze_logs.py'))
    return module['main'](list(map(str, args)))


def test_analyze_logs__loss_and_lr_of_two_runs_in_two_colours(trained, tmp_path):
    work_dir = trained[0]
    log = next(work_dir.glob('*/vis_data/scalars.json'))
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert sum('loss' in r for r in records) == ITERS  # logged every iteration
    other = tmp_path / 'other' / 'scalars.json'  # a second run: half the loss, 3x the lr
    other.parent.mkdir()
    other.write_text(''.join(json.dumps(dict(r, loss=r['loss'] / 2, lr=r['lr'] * 3)) + '\n'
                             for r in records if 'loss' in r))
    out = tmp_path / 'curves.png'
    assert analyze_logs('plot_curve', work_dir, other, '--keys', 'loss', 'lr',
                        '--legend', 'run', 'other', '--out', out) == 0
    png = np.asarray(Image.open(out).convert('RGB'))
    assert png.shape == (2 * 320, 800, 3)
    for panel in (png[:320], png[320:]):  # each run's line (anti-aliased) in both plots
        for colour in PALETTE[:2]:
            near = np.abs(panel.astype(int) - colour).sum(-1) < 60
            assert near.sum() > 200, colour


def test_analyze_logs__unknown_key_is_named_with_the_keys_there(trained, tmp_path):
    with pytest.raises(SystemExit, match=r"'acc'.*loss"):
        analyze_logs('plot_curve', trained[0], '--keys', 'acc', '--out', tmp_path / 'x.png')


def test_demo_summary__writes_the_figure_and_prints_losses_and_both_errors(
        trained, tmp_path, capsys):
    work_dir, config, _, _ = trained
    write_demo_images(tmp_path / 'demo', DEMO_SHOWN_TRAIN)
    write_demo_images(tmp_path / 'demo_heldout', DEMO_HELDOUT)
    module = runpy.run_path(str(ROOT / 'tools' / 'analysis_tools' / 'demo_summary.py'))
    assert module['main']([str(config), str(work_dir), '--train-dir', str(tmp_path / 'demo'),
                           '--seeds', '2']) == 0
    out = capsys.readouterr().out
    figure = work_dir / 'reconstruction_demo.png'
    assert f'reconstruction figure: {figure}' in out and figure.is_file()
    assert 'training loss:' in out and 'nothing borrowed' in out and 'mean colour' in out
    assert 'tools/visualization/visualize_reconstruction.py' in out


def test_reconstruction_hook__draws_nothing_off_rank_0(monkeypatch):
    from mmmim.engine.hooks import reconstruction_visualization_hook as module
    monkeypatch.setattr(module, 'is_main_process', lambda: False)
    hook = module.ReconstructionVisualizationHook(images='unused.png')
    assert hook.draw(runner=None, step=1) is None  # returns before touching the runner


def test_reconstruction_hook__missing_image_is_named(tmp_path):
    from mmmim.engine.hooks.reconstruction_visualization_hook import image_files
    (tmp_path / 'a.png').write_bytes(b'')
    assert image_files([str(tmp_path)]) == [tmp_path / 'a.png']
    with pytest.raises(FileNotFoundError, match='nowhere.jpg'):
        image_files([str(tmp_path), 'nowhere.jpg'])


def test_demo_verdict__names_the_strongest_baseline_the_model_clearly_beats():
    module = runpy.run_path(str(ROOT / 'tools' / 'analysis_tools' / 'demo_summary.py'))
    verdict = module['verdict']
    base = dict(model_true_stats=None, visible_mean=1000., interpolation=500., mean_colour=250.)
    assert 'does not clearly beat' in verdict(dict(base, model=900.))
    assert 'visible neighbours' in verdict(dict(base, model=700.))
    assert 'than interpolating' in verdict(dict(base, model=390.))
    assert 'true mean colours' in verdict(dict(base, model=150.))
