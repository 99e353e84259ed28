"""The batch a run trains with is the batch its config states (issue 27 items 1, 2).

- :func:`named_batch` reads ``8xb512`` / ``16xb1`` / ``8xb2`` from real config names of
  every family (pretraining, fine-tuning, linear probe, detection, segmentation);
- the train-setup report warns when processes x batch x accumulation steps differs
  from the stated batch (the name's, else ``auto_scale_lr.base_batch_size``), checked
  with a fake world size on the built configs;
- ViTDet: the 8-GPU variant (8 x 8, activation checkpointing) differs from the
  16 x 4 config only in those two values, and both give ViTDet's batch of 64;
- every documented train command of a detection / segmentation config launches the
  processes its batch assumes.
"""
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from mmengine.config import Config

from mmmim.engine.hooks.train_setup_report_hook import (
    TrainSetupReportHook,
    named_batch,
    stated_batch,
)

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / 'configs'
COCO = CONFIGS / 'benchmarks/mmdetection/coco'
ADE = CONFIGS / 'benchmarks/mmsegmentation/ade20k'
VITDET = COCO / 'vitdet_mask-rcnn_vit-base-p16_lsj-1024-100e_coco.py'
VITDET_8 = COCO / 'vitdet_mask-rcnn_vit-base-p16_lsj-1024-8xb8-100e_coco.py'

#: one real config of each family -> the (GPUs, per-GPU batch) its name states
NAMED = {
    'mae/mae_vit-base-p16_8xb512-amp-coslr-400e_in1k.py': (8, 512),
    'ummae/ummae_swin-tiny-w8_8xb512-amp-coslr-200e_in1k-256px.py': (8, 512),
    'benchmarks/classification/imagenet/swin-large-w16_8xb128-ft-ld0.7-coslr-100e_in1k-256px.py':
        (8, 128),
    'benchmarks/classification/imagenet/vit-base-p16_8xb2048-linear-lars-coslr-90e_in1k.py':
        (8, 2048),
    'benchmarks/classification/digits/vit-tiny-p4_1xb128-linear-lars-30e_digits.py': (1, 128),
    'benchmarks/mmdetection/coco/htc++_swin-l-p4-w12_fpn_instaboost-ms-400-1400-16xb1-3x_coco.py':
        (16, 1),
    'benchmarks/mmdetection/coco/vitdet_mask-rcnn_vit-base-p16_lsj-1024-8xb8-100e_coco.py':
        (8, 8),
    'benchmarks/mmsegmentation/ade20k/vit-base-p16-mae_upernet_8xb2-ld0.65-160k_ade20k-512x512.py':
        (8, 2),
    'benchmarks/mmdetection/coco/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py': None,
    'benchmarks/mmdetection/coco/vitdet_mask-rcnn_vit-base-p16_lsj-1024-100e_coco.py': None,
    'demo/mae_vit-tiny_demo.py': None,
}


@pytest.mark.parametrize('config', sorted(NAMED))
def test_named_batch__reads_the_gpus_and_per_gpu_batch_of_real_config_names(config):
    assert (CONFIGS / config).is_file()
    assert named_batch(str(CONFIGS / config)) == NAMED[config]


def test_named_batch__every_shipped_name_with_a_batch_parses():
    names = [p.name for p in CONFIGS.rglob('*.py') if '_base_' not in p.parts]
    with_batch = [n for n in names if re.search(r'\d+xb\d+', n)]
    assert len(with_batch) > 50 and all(named_batch(n) for n in with_batch)
    assert not any(named_batch(n) for n in ('mae_vit-base-p16_in1k-512x512.py',
                                            'upernet_160k_ade20k-512x512.py'))


def fake_runner(cfg: Config, world_size: int) -> SimpleNamespace:
    """What the hook reads from a Runner: the config, the world size, the
    dataloader's batch and the optimizer wrapper's accumulation steps."""
    steps = cfg.optim_wrapper.get('accumulative_counts', 1)
    return SimpleNamespace(
        cfg=cfg, world_size=world_size,
        train_dataloader=SimpleNamespace(batch_size=cfg.train_dataloader.batch_size),
        optim_wrapper=SimpleNamespace(_accumulative_counts=steps))


def per_step(cfg: Config) -> int:
    return cfg.train_dataloader.batch_size * cfg.optim_wrapper.get('accumulative_counts', 1)


#: configs of every family with the processes their stated batch assumes
STATED = {
    'ummae/ummae_swin-tiny-w8_8xb512-amp-coslr-200e_in1k-256px.py': (8, 4096),   # accum 4
    'benchmarks/classification/imagenet/swin-tiny-w16_8xb128-ft-ld0.85-coslr-100e_in1k-256px.py':
        (8, 1024),
    'benchmarks/mmdetection/coco/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py': (8, 16),  # base batch
    'benchmarks/mmdetection/coco/vitdet_mask-rcnn_vit-base-p16_lsj-1024-100e_coco.py': (16, 64),
    'benchmarks/mmdetection/coco/vitdet_mask-rcnn_vit-base-p16_lsj-1024-8xb8-100e_coco.py':
        (8, 64),
    'benchmarks/mmdetection/coco/htc++_swin-l-p4-w12_fpn_instaboost-ms-400-1400-16xb1-3x_coco.py':
        (16, 16),
    'benchmarks/mmsegmentation/ade20k/swin-tiny-patch4-window16-ummae_upernet_8xb2-160k_ade20k-512x512.py':
        (8, 16),
}


@pytest.mark.parametrize('config', sorted(STATED))
def test_report__silent_at_the_stated_processes_and_warns_at_half(config):
    cfg = Config.fromfile(str(CONFIGS / config))
    processes, batch = STATED[config]
    assert stated_batch(cfg)[0] == batch
    assert processes * per_step(cfg) == batch
    assert TrainSetupReportHook.batch_mismatch(fake_runner(cfg, processes)) is None
    warning = TrainSetupReportHook.batch_mismatch(fake_runner(cfg, processes // 2))
    assert warning and f'effective batch {batch // 2} ' in warning
    assert f'differs from the batch {batch} the config states' in warning


DOWNSTREAM = sorted([*COCO.glob('*.py'), *ADE.glob('*.py')])


@pytest.mark.parametrize('config', DOWNSTREAM, ids=[p.name for p in DOWNSTREAM])
def test_every_downstream_config__its_named_gpus_train_its_stated_batch(config):
    """A name's NxbM is the built batch (N x M = N x batch x accumulation) and the
    lr's base batch; a name without one leaves auto_scale_lr to state it."""
    cfg = Config.fromfile(str(config))
    batch, _ = stated_batch(cfg)
    assert batch == cfg.auto_scale_lr.base_batch_size
    named = named_batch(config.name)
    if named:
        assert named[1] == per_step(cfg) and named[0] * named[1] == batch
    assert batch % per_step(cfg) == 0


def test_report__vitdet_on_the_default_8_processes_warns_before_training():
    """The documented failure: 8 x 4 = 32 against ViTDet's 64 (its name states no
    batch, so the warning names auto_scale_lr.base_batch_size)."""
    messages = {'info': [], 'warning': []}
    runner = fake_runner(Config.fromfile(str(VITDET)), world_size=8)
    runner.logger = SimpleNamespace(info=messages['info'].append,
                                    warning=messages['warning'].append)
    TrainSetupReportHook().before_train(runner)
    assert messages['info'][0].startswith('effective batch 32 = 4 per process x 8 processes')
    assert len(messages['warning']) == 1
    assert 'effective batch 32' in messages['warning'][0]
    assert 'the batch 64 the config states (its auto_scale_lr.base_batch_size)' \
        in messages['warning'][0]


def test_report__a_config_stating_no_batch_gives_no_warning():
    cfg = Config(dict(train_dataloader=dict(batch_size=3), optim_wrapper=dict()))
    assert stated_batch(cfg) is None
    assert TrainSetupReportHook.batch_mismatch(fake_runner(cfg, 5)) is None


def test_vitdet_8xb8__only_batch_and_checkpointing_differ_and_iterations_stay():
    full, eight = (Config.fromfile(str(p)).to_dict() for p in (VITDET, VITDET_8))
    assert full['train_dataloader'].pop('batch_size') * 16 == 64
    assert eight['train_dataloader'].pop('batch_size') * 8 == 64
    assert (full['model']['backbone'].pop('with_cp'),
            eight['model']['backbone'].pop('with_cp')) == (False, True)
    assert eight['train_cfg']['max_iters'] == 184375
    assert full == eight  # lr, schedule, iterations, auto_scale_lr, pipelines: the same


# ---- documented commands -------------------------------------------------------

def code_commands(text: str):
    """Shell commands of the page's fenced code blocks, continuation lines joined."""
    for block in re.findall(r'```(?:shell|bash|sh)?\n(.*?)```', text, flags=re.S):
        yield from re.sub(r'\\\n\s*', ' ', block).splitlines()


def documented_downstream_commands():
    pages = [ROOT / 'README.md', *sorted((ROOT / 'docs').glob('*.md'))]
    for page in pages:
        for command in code_commands(page.read_text()):
            found = re.search(r'(configs/benchmarks/mm(?:detection|segmentation)/\S+?\.py)',
                              command)
            if found and 'train' in command:
                yield page.name, command, ROOT / found.group(1)


DOCUMENTED = list(documented_downstream_commands())


def test_docs__document_downstream_train_commands():
    assert len(DOCUMENTED) >= 4, DOCUMENTED


@pytest.mark.parametrize('page,command,config', DOCUMENTED,
                         ids=[f'{p}:{c.name}' for p, _, c in DOCUMENTED])
def test_docs__each_train_command_launches_the_batch_its_config_states(page, command, config):
    """A launcher with GPUS=N (torchrun: per node, times NNODES; srun: in all), and
    processes x batch x accumulation = the stated batch (placeholder configs: any N)."""
    assert 'mim_dist_train.sh' in command or 'mim_slurm_train.sh' in command, command
    gpus = re.search(r'\bGPUS=(\d+)', command)
    assert gpus, f'{page}: no GPUS= in {command}'
    nodes = re.search(r'\bNNODES=(\d+)', command)
    processes = int(gpus.group(1)) * (int(nodes.group(1)) if nodes and
                                      'mim_dist_train.sh' in command else 1)
    if not config.is_file():
        assert re.search(r'CONFIG|<\w+>', config.name), config  # a placeholder
        return
    cfg = Config.fromfile(str(config))
    assert processes * per_step(cfg) == stated_batch(cfg)[0], command
