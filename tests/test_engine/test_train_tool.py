"""tools/train.py: arguments, config errors, --amp / --resume / --auto-scale-lr, and
the effective batch and learning rate report."""
import importlib.util
import os
import subprocess
import sys

import pytest
from engine_runs import DEMO_CONFIG, ROOT

PYTHON = sys.executable


def load_tool():
    spec = importlib.util.spec_from_file_location('mmmim_train_tool', ROOT / 'tools' / 'train.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


train_tool = load_tool()


def configured(*argv: str):
    """The config as train.py sets it up for ``argv`` (no run)."""
    args = train_tool.parse_args([str(DEMO_CONFIG), *argv])
    cfg = train_tool.load_config(args.config, args.cfg_options)
    train_tool.apply_args(cfg, args)
    return cfg


def test_missing_config__error_names_the_path(tmp_path):
    with pytest.raises(SystemExit, match='config file not found: .*no_such.py'):
        train_tool.main([str(tmp_path / 'no_such.py')])


def test_unknown_type__error_names_type_and_config_key(tmp_path):
    with pytest.raises(SystemExit) as error:
        train_tool.main([str(DEMO_CONFIG), '--work-dir', str(tmp_path),
                         '--cfg-options', 'model.masker.type=RandomMaskr'])
    message = str(error.value)
    assert "unknown type 'RandomMaskr' at model.masker" in message
    assert 'Did you mean RandomMasker' in message


def test_defaults__work_dir_from_config_name_no_resume():
    cfg = configured()
    assert cfg.work_dir == os.path.join('work_dirs', 'mae_vit-tiny_demo')
    assert cfg.resume is False and cfg.load_from is None and cfg.launcher == 'none'


def test_resume__bare_flag_is_auto_path_is_that_checkpoint(tmp_path):
    assert configured('--resume').resume is True and configured('--resume').load_from is None
    assert configured('--resume', 'auto').load_from is None
    checkpoint = tmp_path / 'iter_5.pth'
    checkpoint.write_bytes(b'')
    cfg = configured('--resume', str(checkpoint))
    assert cfg.resume is True and cfg.load_from == str(checkpoint)
    with pytest.raises(SystemExit, match='checkpoint not found'):
        configured('--resume', str(tmp_path / 'missing.pth'))


def test_amp__optim_wrapper_becomes_guarded_amp_with_auto_dtype():
    cfg = configured('--amp')
    assert cfg.optim_wrapper.type == 'GuardedAmpOptimWrapper'
    assert cfg.optim_wrapper.dtype == 'auto'
    assert cfg.optim_wrapper.optimizer.type == 'AdamW'  # the rest is kept


def test_auto_scale_lr__effective_batch_counts_accumulation_steps():
    cfg = configured('--auto-scale-lr', '--cfg-options',
                     'optim_wrapper.accumulative_counts=4')
    assert cfg.auto_scale_lr.enable is True
    # mmengine scales by processes x batch / base: base / 4 makes it effective / base
    assert cfg.auto_scale_lr.base_batch_size == 16 / 4


def test_run__reports_effective_batch_and_scaled_lr(small_photos_dir, tmp_path):
    """A 2-iteration run (12 images, batch 6) with 2 accumulation steps and
    --auto-scale-lr: effective batch 12 = 0.75 x the config's base batch 16."""
    from engine_runs import tiny_demo_cfg
    tiny = tiny_demo_cfg(small_photos_dir, tmp_path / 'unused', max_epochs=1)
    tiny.dump(tmp_path / 'tiny.py')
    result = subprocess.run(
        [PYTHON, str(ROOT / 'tools' / 'train.py'), str(tmp_path / 'tiny.py'), '--work-dir',
         str(tmp_path / 'run'), '--auto-scale-lr', '--cfg-options',
         'train_dataloader.batch_size=6', 'optim_wrapper.accumulative_counts=2'],
        capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    report = [line for line in result.stdout.splitlines() if 'effective batch' in line]
    assert report, result.stdout[-3000:]
    assert 'effective batch 12 = 6 per process x 1 processes x 2 accumulation steps' \
        in report[0]
    assert f'learning rate {tiny.optim_wrapper.optimizer.lr * 0.75:.6g}' in report[0]
    assert 'auto-scaled x0.75' in report[0]
    assert (tmp_path / 'run' / 'iter_2.pth').exists()
