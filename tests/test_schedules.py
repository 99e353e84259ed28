"""Every shipped pretraining config's lr curve follows its recipe: warm-up from
``start_factor`` to the base lr, then the main schedule ending exactly at
``max_epochs`` (cosine at ``eta_min``), with mmengine's own schedulers built and
stepped as the runner builds and steps them."""
import copy
import math
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.runner import Runner

REPO = Path(__file__).resolve().parents[1]
PRETRAINING = sorted(
    str(p.relative_to(REPO)) for p in (REPO / 'configs').rglob('*.py')
    if '_base_' not in p.parts and 'benchmarks' not in p.parts)
EPOCH_LENGTH = 2


class _FakeLoop:
    """What ``Runner._build_param_scheduler`` reads of the train loop."""

    def __init__(self, max_epochs: int) -> None:
        self.max_epochs, self.max_iters = max_epochs, max_epochs * EPOCH_LENGTH


def lr_curve(cfg: Config):
    """lr before every iteration, and after the last one. The schedulers come from
    mmengine's ``Runner._build_param_scheduler`` (which fills a missing ``end`` from
    ``max_epochs``) and are stepped as ``ParamSchedulerHook`` steps them."""
    from mmengine.runner.base_loop import BaseLoop
    param = torch.nn.Parameter(torch.zeros(1))
    wrapper = OptimWrapper(torch.optim.SGD([param], lr=cfg.optim_wrapper.optimizer.lr))
    loop = type('Loop', (_FakeLoop, BaseLoop), {'run': lambda self: None})(
        cfg.train_cfg.max_epochs)
    runner = SimpleNamespace(_train_loop=loop, max_epochs=loop.max_epochs,
                             max_iters=loop.max_iters, train_dataloader=range(EPOCH_LENGTH),
                             logger=SimpleNamespace(debug=lambda *a, **k: None))
    schedulers = Runner._build_param_scheduler(runner, copy.deepcopy(cfg.param_scheduler),
                                               wrapper)
    lrs = []
    for _ in range(loop.max_epochs):
        for _ in range(EPOCH_LENGTH):
            lrs.append(wrapper.param_groups[0]['lr'])
            for s in schedulers:
                if not s.by_epoch:
                    s.step()
        for s in schedulers:
            if s.by_epoch:
                s.step()
    return lrs, wrapper.param_groups[0]['lr']


@pytest.mark.parametrize('path', PRETRAINING)
def test_pretraining_schedule__warm_up_reaches_base_lr_and_schedule_ends_at_max_epochs(path):
    cfg = Config.fromfile(str(REPO / path))
    stated = re.search(r'-(\d+)e_', Path(path).name)
    if stated:                                   # the name states the epochs
        assert cfg.train_cfg.max_epochs == int(stated.group(1))
    warmup, main = cfg.param_scheduler
    assert warmup.type == 'LinearLR' and warmup.begin == 0 and main.begin == warmup.end
    base = cfg.optim_wrapper.optimizer.lr
    lrs, after_last = lr_curve(cfg)
    assert len(lrs) == cfg.train_cfg.max_epochs * EPOCH_LENGTH
    assert lrs[0] == pytest.approx(base * warmup.start_factor, rel=1e-9)
    assert lrs[warmup.end * EPOCH_LENGTH] == pytest.approx(base, rel=1e-9)
    decay = lrs[warmup.end * EPOCH_LENGTH:]
    assert all(b <= a * (1 + 1e-12) for a, b in zip(decay, decay[1:]))
    if main.type == 'CosineAnnealingLR':
        # the cosine spans exactly warm-up end .. max_epochs (mmengine's last update is
        # at step end - 1, so the curve stops one step short of eta_min)
        eta_min, span = main.get('eta_min', 0.), len(decay)
        def cosine(t):
            return eta_min + (base - eta_min) * (1 + math.cos(math.pi * t / span)) / 2
        assert decay[span // 2] == pytest.approx(cosine(span // 2), rel=1e-6)
        assert decay[-1] == pytest.approx(cosine(span - 1), rel=1e-6)
        assert after_last == decay[-1]
    else:
        assert main.type == 'MultiStepLR'
        assert after_last == pytest.approx(base * main.get('gamma', 0.1) ** len(main.milestones))
