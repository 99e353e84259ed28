"""``compile=True``: mmengine compiles the model's ``train_step`` (Inductor by default);
it must compile (the optimizer update stays out of TorchDynamo, which fails on the
parameter groups) and compute what the eager step does. About a minute of Inductor
compilation on 2 CPU cores."""
import copy
from pathlib import Path

import torch
import torch._inductor.config as inductor_config
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from photos import photo_tensor
from tiny import tiny_mae_cfg

import mmmim.engine  # noqa: F401  (GuardedOptimWrapper)
from mmmim.registry import MODELS

init_default_scope('mmmim')
SCHEDULE = Path(__file__).parents[2] / 'configs/_base_/schedules/adamw_coslr_pretrain.py'


def losses_of(model, compile_backend=None, steps=2):
    """Losses of ``steps`` training steps with the pretraining configs' optimizer
    wrapper (GuardedOptimWrapper, AdamW, paramwise groups) on the same batch and masks."""
    spec = Config.fromfile(str(SCHEDULE)).optim_wrapper.to_dict()
    spec['optimizer']['lr'] = 1e-3
    wrapper = build_optim_wrapper(model, spec)
    train_step = model.train_step
    if compile_backend:
        torch._dynamo.reset()
        train_step = torch.compile(model.train_step, backend=compile_backend)
    batch = dict(inputs=list(photo_tensor(64).mul(255).clamp(0, 255).byte()))
    losses = []
    with inductor_config.patch(fallback_random=True):  # eager's RNG: the same masks
        for step in range(steps):
            torch.manual_seed(step)  # the same masks in both runs
            losses.append(float(train_step(dict(batch), wrapper)['loss']))
    torch._dynamo.reset()
    return losses


def test_compiled_train_step__traces_and_gives_the_eager_losses():
    torch.manual_seed(0)
    model = MODELS.build(tiny_mae_cfg(64))
    model.init_weights()
    twin = copy.deepcopy(model)
    eager = losses_of(model)
    compiled = losses_of(twin, compile_backend='inductor')
    assert all(abs(a - b) < 1e-4 * max(1.0, abs(a)) for a, b in zip(eager, compiled)), \
        (eager, compiled)
    assert eager[1] != eager[0]  # the optimizer step ran in both
