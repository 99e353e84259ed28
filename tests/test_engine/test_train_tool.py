"""tools/train.py: arguments, config errors, --amp / --resume / --auto-scale-lr, and
the effective batch and learning rate report; on GPU machines (CUDA faked): float16
--amp for detection, --deterministic's cuBLAS setting, TF32, GPUs torch cannot use,
num_workers='auto'."""
import importlib.util
import os
import subprocess
import sys

import pytest
import torch
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
    assert cfg.optim_wrapper.type == 'mmmim.GuardedAmpOptimWrapper'
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


# ---- GPU machines (tested on the CPU with CUDA faked where a branch needs it) ------

COCO_CONFIGS = ROOT / 'configs/benchmarks/mmdetection/coco'
DETECTION_CONFIG = COCO_CONFIGS / 'mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py'
VITDET_CONFIG = COCO_CONFIGS / 'vitdet_mask-rcnn_vit-base-p16_lsj-1024-100e_coco.py'
PRETRAIN_CONFIG = ROOT / 'configs/mae/mae_vit-base-p16_8xb512-amp-coslr-400e_in1k.py'


def configured_from(config, *argv: str):
    """``config`` as train.py sets it up for ``argv`` (no run)."""
    args = train_tool.parse_args([str(config), *argv])
    cfg = train_tool.load_config(args.config, args.cfg_options)
    train_tool.apply_args(cfg, args)
    return cfg


@pytest.fixture
def fake_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)


def test_amp__detection_configs_autocast_float16_pretraining_auto(fake_cuda):
    for config in (DETECTION_CONFIG, VITDET_CONFIG):  # an OptimWrapper, an AmpOptimWrapper
        cfg = configured_from(config, '--amp')
        assert cfg.default_scope == 'mmdet' and 'roi_head' in cfg.model
        assert cfg.optim_wrapper.type == 'mmmim.GuardedAmpOptimWrapper'
        assert cfg.optim_wrapper.dtype == 'float16', config
    assert configured_from(PRETRAIN_CONFIG, '--amp').optim_wrapper.dtype == 'auto'


SEGMENTATION_CONFIG = (ROOT / 'configs/benchmarks/mmsegmentation/ade20k/'
                       'swin-tiny-patch4-window16-ummae_upernet_8xb2-160k_ade20k-512x512.py')
FINETUNE_CONFIG = (ROOT / 'configs/benchmarks/classification/imagenet/'
                   'vit-base-p16_8xb128-ft-ld0.65-coslr-100e_in1k.py')


@pytest.mark.parametrize('config', [DETECTION_CONFIG, VITDET_CONFIG, SEGMENTATION_CONFIG,
                                    FINETUNE_CONFIG, PRETRAIN_CONFIG], ids=lambda p: p.stem)
def test_amp__wrapper_found_under_the_configs_own_default_scope(config):
    """The Runner builds the optim wrapper under the config's default scope: a bare
    ``GuardedAmpOptimWrapper`` is not in mmdet's / mmseg's / mmpretrain's registry.
    (The dtype is named so that detection configs pass the CPU check.)"""
    from mmengine.logging import MMLogger
    from mmengine.registry import OPTIM_WRAPPERS

    from mmmim.engine import GuardedAmpOptimWrapper
    MMLogger.get_instance('amp_scope')  # the registry logs where it looked
    cfg = configured_from(config, '--amp', '--cfg-options', 'optim_wrapper.dtype=float16')
    with OPTIM_WRAPPERS.switch_scope_and_registry(cfg.default_scope) as registry:
        assert registry.get(cfg.optim_wrapper.type) is GuardedAmpOptimWrapper  # as built


def test_amp__dtype_named_in_config_or_options_wins_on_detection(fake_cuda):
    cfg = configured_from(DETECTION_CONFIG, '--amp', '--cfg-options',
                          'optim_wrapper.dtype=bfloat16')
    assert cfg.optim_wrapper.dtype == 'bfloat16'


def test_amp__detection_on_cpu_stops_naming_the_reason(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.raises(SystemExit, match='RoIAlign has no bfloat16 kernel.*without --amp'):
        configured_from(DETECTION_CONFIG, '--amp')


def test_deterministic__sets_cublas_workspace_keeps_a_given_one(monkeypatch):
    monkeypatch.setenv('CUBLAS_WORKSPACE_CONFIG', '')  # restored after the test
    monkeypatch.delenv('CUBLAS_WORKSPACE_CONFIG')
    configured()
    assert 'CUBLAS_WORKSPACE_CONFIG' not in os.environ
    assert configured('--deterministic').randomness.deterministic is True
    assert os.environ['CUBLAS_WORKSPACE_CONFIG'] == ':4096:8'
    monkeypatch.setenv('CUBLAS_WORKSPACE_CONFIG', ':16:8')
    configured('--deterministic')
    assert os.environ['CUBLAS_WORKSPACE_CONFIG'] == ':16:8'


def test_deterministic__vitdet_only_gets_warn_only(monkeypatch):
    calls = []
    monkeypatch.setattr(torch, 'use_deterministic_algorithms',
                        lambda mode, **kwargs: calls.append((mode, kwargs)))
    monkeypatch.setenv('CUBLAS_WORKSPACE_CONFIG', ':4096:8')
    train_tool.relax_determinism_for_vitdet(configured('--deterministic'))
    train_tool.relax_determinism_for_vitdet(configured_from(VITDET_CONFIG))
    assert calls == []  # MAE demo deterministic; ViTDet not deterministic
    train_tool.relax_determinism_for_vitdet(configured_from(VITDET_CONFIG, '--deterministic'))
    assert calls == [(True, dict(warn_only=True))]


@pytest.mark.parametrize('cuda', [True, False])
def test_tf32__matmul_precision_high_only_with_cuda(monkeypatch, cuda):
    calls = []
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: cuda)
    monkeypatch.setattr(torch, 'set_float32_matmul_precision', calls.append)
    train_tool.allow_tf32()
    assert calls == (['high'] if cuda else [])


@pytest.fixture
def gpu_machine(tmp_path, monkeypatch):
    """A CUDA 13 torch that sees no GPU, on a machine whose nvidia-smi (a script in
    ``tmp_path/bin``, rewritable) reports driver 550.54.15."""
    import mmmim.engine.dist as dist
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    write_nvidia_smi(bin_dir, 'echo 550.54.15')
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    monkeypatch.setattr(torch.version, 'cuda', '13.0')
    monkeypatch.setattr(dist, 'NVIDIA_DEVICE', str(tmp_path / 'no_nvidia0'))
    monkeypatch.setenv('PATH', f'{bin_dir}:{os.environ["PATH"]}')
    for name in ('CUDA_VISIBLE_DEVICES', 'MMMIM_ALLOW_CPU'):
        monkeypatch.delenv(name, raising=False)
    return bin_dir


def write_nvidia_smi(bin_dir, body: str) -> None:
    smi = bin_dir / 'nvidia-smi'
    smi.write_text(f'#!/bin/sh\n{body}\n')
    smi.chmod(0o755)


def test_gpus_torch_cannot_use__stop_naming_build_driver_and_fix(gpu_machine):
    cfg = configured()
    with pytest.raises(SystemExit) as error:
        train_tool.stop_if_gpus_unusable()
    message = str(error.value)
    assert 'nvidia-smi on PATH' in message and 'CUDA 13.0' in message
    assert 'driver >= 580' in message and 'NVIDIA driver 550.54.15' in message
    version = torch.__version__.split('+')[0]
    assert f'torch=={version}+cu128' in message
    assert 'https://download.pytorch.org/whl/cu128' in message and 'MMMIM_PYTHON=' in message
    assert 'MMMIM_ALLOW_CPU=1' in message
    train_tool.setup_cpu_distributed(cfg)  # --launcher none: nothing else to do


def test_gpus_torch_cannot_use__main_stops_before_training(gpu_machine, tmp_path):
    with pytest.raises(SystemExit, match='cannot use them'):
        train_tool.main([str(DEMO_CONFIG), '--work-dir', str(tmp_path / 'run')])
    assert not (tmp_path / 'run').exists()


def test_gpus_torch_cannot_use__allow_cpu_opt_out(gpu_machine, monkeypatch):
    monkeypatch.setenv('MMMIM_ALLOW_CPU', '1')
    train_tool.stop_if_gpus_unusable()


@pytest.mark.parametrize('visible', ['', '-1'])
def test_gpus_torch_cannot_use__gpus_hidden_on_purpose_is_fine(gpu_machine, monkeypatch,
                                                               visible):
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', visible)
    train_tool.stop_if_gpus_unusable()


def test_gpus_torch_cannot_use__no_gpu_evidence_nothing_happens(gpu_machine, monkeypatch,
                                                                tmp_path):
    monkeypatch.setenv('PATH', str(tmp_path / 'empty'))
    train_tool.stop_if_gpus_unusable()
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '0,1')  # alone it is evidence
    with pytest.raises(SystemExit, match=r'CUDA_VISIBLE_DEVICES=0,1.*no nvidia-smi on PATH'):
        train_tool.stop_if_gpus_unusable()


def test_gpus_torch_cannot_use__failing_or_hanging_nvidia_smi_is_reported(gpu_machine,
                                                                          monkeypatch):
    import mmmim.engine.dist as dist
    write_nvidia_smi(gpu_machine, "echo \"NVIDIA-SMI has failed because it couldn't "
                     'communicate with the NVIDIA driver." ; exit 9')
    with pytest.raises(SystemExit, match='nvidia-smi failed: NVIDIA-SMI has failed'):
        train_tool.stop_if_gpus_unusable()
    write_nvidia_smi(gpu_machine, 'exec sleep 5')
    monkeypatch.setattr(dist, 'NVIDIA_SMI_TIMEOUT_S', 0.3)
    with pytest.raises(SystemExit, match='nvidia-smi gave no answer in 0.3 s'):
        train_tool.stop_if_gpus_unusable()


@pytest.mark.parametrize('affinity, env, workers', [
    (16, {}, 15),
    (16, dict(LOCAL_WORLD_SIZE='2'), 7),  # torchrun: 2 trainers share the node
    (16, dict(LOCAL_WORLD_SIZE='8'), 1),
    (64, dict(SLURM_PROCID='3', SLURM_CPUS_PER_TASK='10'), 9),  # srun, unbound task
    (10, dict(SLURM_PROCID='3', SLURM_CPUS_PER_TASK='12'), 9),  # srun, bound to 10
    (64, dict(SLURM_PROCID='0', SLURM_NTASKS_PER_NODE='8'), 7),
    (64, dict(SLURM_PROCID='0', SLURM_CPUS_PER_TASK='32', LOCAL_WORLD_SIZE='4'), 15),
    (1, {}, 1),  # one CPU: still one worker
])
def test_num_workers_auto__cpus_of_this_process_less_one(monkeypatch, affinity, env, workers):
    monkeypatch.setattr(os, 'sched_getaffinity', lambda pid: set(range(affinity)),
                        raising=False)
    cfg = configured('--cfg-options', 'train_dataloader.num_workers=auto')
    train_tool.resolve_num_workers(cfg, env)
    assert cfg.train_dataloader.num_workers == workers


def test_num_workers_auto__only_auto_loaders_change():
    cfg = configured('--cfg-options', 'train_dataloader.num_workers=3')
    cfg.val_dataloader = dict(num_workers='auto', batch_size=1)
    train_tool.resolve_num_workers(cfg, {})
    assert cfg.train_dataloader.num_workers == 3
    assert isinstance(cfg.val_dataloader.num_workers, int)
    assert cfg.val_dataloader.num_workers >= 1


def test_collective_timeout__an_hour_where_the_config_sets_none_kept_where_it_does():
    # the mmdet config inherits mmdet's runtime (no timeout); the demo sets one itself
    assert configured_from(DETECTION_CONFIG).env_cfg.dist_cfg.timeout == 3600
    assert configured_from(DETECTION_CONFIG).env_cfg.dist_cfg.backend == 'nccl'
    cfg = configured_from(DETECTION_CONFIG, '--cfg-options', 'env_cfg.dist_cfg.timeout=60')
    assert cfg.env_cfg.dist_cfg.timeout == 60


def test_build_runner__every_config_gets_the_preemption_hook_once(tmp_path):
    from mmmim.engine.hooks import PreemptionCheckpointHook
    for extra in ([], ['custom_hooks=[]']):  # listed by the runtime, or not at all
        options = ['--cfg-options', *extra] if extra else []
        cfg = configured('--work-dir', str(tmp_path / 'run'), *options)
        runner = train_tool.build_runner(cfg)
        hooks = [h for h in runner.hooks if isinstance(h, PreemptionCheckpointHook)]
        assert len(hooks) == 1


def test_shortened_run__warmup_past_the_end_stops_naming_the_settings_and_a_fit():
    """max_epochs=2 on the demo (25-epoch warm-up of 1000): not mmengine's "end should
    be larger than begin", but the settings to change, scaled to the run."""
    with pytest.raises(SystemExit) as error:
        configured('--cfg-options', 'train_cfg.max_epochs=2')
    message = str(error.value)
    assert 'train_cfg.max_epochs=2' in message
    assert 'param_scheduler[0].end=25, param_scheduler[1].begin=25' in message
    assert ('--cfg-options train_cfg.max_epochs=2 param_scheduler.0.end=1 '
            'param_scheduler.1.begin=1') in message
    fitted = configured('--cfg-options', 'train_cfg.max_epochs=2', 'param_scheduler.0.end=1',
                        'param_scheduler.1.begin=1')  # the suggestion passes the check
    assert [s.get('end') for s in fitted.param_scheduler] == [1, None]


def test_shortened_run__no_fit_is_suggested_when_the_order_cannot_be_kept():
    with pytest.raises(SystemExit) as error:
        configured('--cfg-options', 'train_cfg.max_epochs=1')
    assert 'param_scheduler[1].begin=25' in str(error.value)
    assert 'e.g.' not in str(error.value)  # 1 epoch: no room for warm-up then cosine


def test_shortened_run__iteration_schedules_are_checked_against_max_iters_warm_up_cut_warns():
    cfg = train_tool.Config(dict(
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=100),
        param_scheduler=[dict(type='LinearLR', by_epoch=False, begin=0, end=500),
                         dict(type='CosineAnnealingLR', by_epoch=True, begin=25)]))
    train_tool.check_schedule_fits(cfg)  # a warm-up cut short: a warning, the run goes on
    cfg.param_scheduler.append(dict(type='CosineAnnealingLR', by_epoch=False, begin=150))
    with pytest.raises(SystemExit, match=r'max_iters=100\): param_scheduler\[0\]\.end=500, '
                       r'param_scheduler\[2\]\.begin=150 are'):
        train_tool.check_schedule_fits(cfg)
    cfg.param_scheduler[2]['begin'] = 99  # the epoch-based entry is not counted
    train_tool.check_schedule_fits(cfg)


def test_detection_config_without_mmcv_ops__stops_naming_the_install(monkeypatch):
    monkeypatch.setattr(train_tool, 'has_mmcv_ops', lambda: False)
    with pytest.raises(SystemExit, match=r"this mmdet config needs mmcv's compiled ops.*"
                       r'bash tools/install\.sh --ops'):
        train_tool.build_runner(configured_from(DETECTION_CONFIG))
    train_tool.require_mmcv_ops(configured())  # pretraining needs none


def test_config_whose_custom_imports_need_mmcv_ops__stops_naming_the_install(
        tmp_path, monkeypatch):
    """An mmseg PVT config imports mmdet.models (custom_imports) while it loads."""
    (tmp_path / 'needs_ops_module.py').write_text(
        "raise ModuleNotFoundError(\"No module named 'mmcv._ext'\", name='mmcv._ext')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    config = tmp_path / 'needs_ops.py'
    config.write_text("custom_imports = dict(imports=['needs_ops_module'], "
                      'allow_failed_imports=False)\n')
    with pytest.raises(SystemExit, match=r"needs_ops\.py needs mmcv's compiled ops.*"
                       r'bash tools/install\.sh --ops'):
        train_tool.load_config(str(config))


def test_load_from__pretraining_model_stops_when_the_decoder_would_not_load(tmp_path):
    from mmmim.converters import ConversionError
    cfg = configured('--work-dir', str(tmp_path / 'run'))
    runner = train_tool.build_runner(cfg)
    state = runner.model.state_dict()
    full, encoder_only = tmp_path / 'full.pth', tmp_path / 'encoder_only.pth'
    torch.save({'state_dict': state}, full)
    torch.save({'state_dict': {k: v for k, v in state.items() if not k.startswith('decoder')}},
               encoder_only)
    cfg.load_from = str(full)
    train_tool.check_pretraining_load_from(runner, cfg)  # everything loads: no error
    cfg.load_from = str(encoder_only)
    with pytest.raises(ConversionError, match='decoder'):
        train_tool.check_pretraining_load_from(runner, cfg)
    cfg.resume = True  # resuming reads the whole training checkpoint instead
    train_tool.check_pretraining_load_from(runner, cfg)
