"""The batch a config trains with on GPUs: every pretraining and ImageNet fine-tuning
config whose name states a total (``8xb512``: 8 GPUs x 512 = 4096) keeps it as GPUs x
per-GPU micro-batch x gradient-accumulation steps, its lr is for that total, and
``--auto-scale-lr`` leaves the lr as it is at the named GPU count. Pretraining
schedules are in epochs (so they follow the number of micro-batches per epoch), the
loaders pin memory and the data preprocessor copies to the GPU without blocking."""
import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from test_configs import CONFIG_ROOT, PRETRAIN_CONFIGS

import mmmim  # noqa: F401
from mmmim.engine.hooks.train_setup_report_hook import named_batch
from mmmim.engine.optimizers.guarded_optim_wrapper import GuardedAmpOptimWrapper
from mmmim.registry import MODELS

NAMED = [p for p in PRETRAIN_CONFIGS if named_batch(p.name)]
IDS = [str(p.relative_to(CONFIG_ROOT)) for p in NAMED]
FINETUNE = sorted((CONFIG_ROOT / 'benchmarks' / 'classification').rglob('*.py'))
NAMED_ALL = NAMED + [p for p in FINETUNE if named_batch(p.name)]
IDS_ALL = [str(p.relative_to(CONFIG_ROOT)) for p in NAMED_ALL]


def load_train_tool():
    """tools/train.py as a module (it is a script, not a package module)."""
    path = CONFIG_ROOT.parent / 'tools' / 'train.py'
    spec = importlib.util.spec_from_file_location('mmmim_train_tool_batch', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def named_total(path: Path):
    """(GPUs, total batch) stated by the file name: ``8xb512`` -> (8, 4096)."""
    gpus, per_gpu = named_batch(path.name)
    return gpus, gpus * per_gpu


def accumulation_steps(cfg: Config) -> int:
    return cfg.optim_wrapper.get('accumulative_counts', 1)


def test_every_pretraining_config_outside_the_demos_names_its_total_batch():
    unnamed = [p.name for p in PRETRAIN_CONFIGS if p not in NAMED and 'demo' not in p.parts]
    assert NAMED and not unnamed, unnamed


@pytest.mark.parametrize('path', NAMED_ALL, ids=IDS_ALL)
def test_gpus_x_micro_batch_x_accumulation__is_the_named_total_and_the_lr_base(path):
    cfg = Config.fromfile(str(path))
    gpus, total = named_total(path)
    micro = cfg.train_dataloader.batch_size
    assert gpus * micro * accumulation_steps(cfg) == total, (micro, accumulation_steps(cfg))
    assert cfg.auto_scale_lr.base_batch_size == total


@pytest.mark.parametrize('path', NAMED_ALL, ids=IDS_ALL)
def test_auto_scale_lr__keeps_the_lr_at_the_named_gpu_count(path):
    """tools/train.py divides ``base_batch_size`` by the accumulation steps; mmengine's
    ``Runner.scale_lr`` then scales by (processes x micro-batch) / base: x1 at the
    named GPU count, x2 at twice it."""
    cfg = Config.fromfile(str(path))
    load_train_tool().enable_auto_scale_lr(cfg)
    gpus, _ = named_total(path)
    lr = cfg.optim_wrapper.optimizer.lr
    for world_size, ratio in ((gpus, 1.0), (2 * gpus, 2.0)):
        wrapper = OptimWrapper(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr))
        runner = SimpleNamespace(_train_dataloader=cfg.train_dataloader, world_size=world_size,
                                 logger=MMLogger.get_current_instance(), param_schedulers=None)
        Runner.scale_lr(runner, wrapper, cfg.auto_scale_lr)
        assert wrapper.optimizer.param_groups[0]['lr'] == pytest.approx(lr * ratio)


@pytest.mark.parametrize('path', NAMED, ids=IDS)
def test_schedule_in_epochs__follows_the_micro_batches_per_epoch(path):
    """Schedulers stepped per iteration (every micro-batch) with lengths converted from
    epochs by the loader's length: warm-up and cosine keep their length in epochs
    whatever the micro-batch and accumulation steps."""
    for scheduler in Config.fromfile(str(path)).param_scheduler:
        assert scheduler['by_epoch'] and scheduler['convert_to_iter_based'], scheduler


CPU_CONFIGS = ('demo', 'digits')  # folders of configs made to run on the CPU


@pytest.mark.parametrize('path', [p for p in NAMED if not set(CPU_CONFIGS) & set(p.parts)],
                         ids=[i for p, i in zip(NAMED, IDS)
                              if not set(CPU_CONFIGS) & set(p.parts)])
def test_gpu_transfer__pinned_loader_and_non_blocking_copy(path):
    cfg = Config.fromfile(str(path))
    assert cfg.train_dataloader.pin_memory is True
    assert isinstance(cfg.train_dataloader.num_workers, int)
    init_default_scope('mmmim')
    preprocessor = MODELS.build(dict(type='ImgDataPreprocessor',
                                     **cfg.model.data_preprocessor))
    assert preprocessor._non_blocking is True


@pytest.mark.parametrize('path', [p for p in PRETRAIN_CONFIGS
                                  if set(CPU_CONFIGS) & set(p.parts)])
def test_cpu_configs__loader_does_not_pin(path):
    assert not Config.fromfile(str(path)).train_dataloader.get('pin_memory', False)


def test_guarded_amp_wrapper__accumulated_halves_step_as_the_whole_batch():
    """accumulative_counts=2 on half batches: one optimizer step, after the second half,
    with the gradient of the whole batch (the loss of each half scaled by 1/2)."""
    torch.manual_seed(0)
    inputs, targets = torch.randn(8, 5), torch.randn(8, 3)

    def run(batches, steps):
        model = torch.nn.Linear(5, 3)
        torch.nn.init.constant_(model.weight, 0.1)
        torch.nn.init.zeros_(model.bias)
        wrapper = GuardedAmpOptimWrapper(
            optimizer=torch.optim.SGD(model.parameters(), lr=1.0), accumulative_counts=steps)
        weights = []
        for x, y in batches:
            wrapper.update_params(torch.nn.functional.mse_loss(model(x), y))
            weights.append(model.weight.detach().clone())
        return weights

    whole = run([(inputs, targets)], steps=1)
    halves = run(zip(inputs.split(4), targets.split(4)), steps=2)
    assert torch.equal(halves[0], torch.full_like(halves[0], 0.1))    # no step yet
    torch.testing.assert_close(halves[1], whole[0])
