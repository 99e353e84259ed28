"""The log: the experiment name once, not after every epoch; every distinct
parameter-group learning rate next to MMEngine's ``lr``."""
from types import SimpleNamespace

import torch
from engine_runs import run, tiny_demo_cfg
from mmengine.logging import MessageHub

from mmmim.engine.hooks.param_group_lr_hook import ParamGroupLrHook, group_lrs


def test_logger_hook__experiment_name_once_in_a_three_epoch_run(small_photos_dir, tmp_path):
    cfg = tiny_demo_cfg(small_photos_dir, tmp_path, max_epochs=3, ckpt_interval=1000)
    cfg.custom_hooks = cfg.custom_hooks[:1]
    run(cfg)
    log = next(tmp_path.glob('*/*.log')).read_text()
    assert log.count('Exp name: ') == 1
    assert log.count('Epoch(train)') >= 9  # the per-iteration lines are all there


def test_logger_hook__epochs_shorter_than_the_interval_log_every_interval_iterations(
        small_photos_dir, tmp_path):
    # one 12-image batch per epoch (the demo's case): 7 iterations at interval 3
    cfg = tiny_demo_cfg(small_photos_dir, tmp_path, batch_size=12, max_epochs=7,
                        ckpt_interval=1000)
    cfg.custom_hooks = cfg.custom_hooks[:1]
    cfg.default_hooks.logger.interval = 3
    run(cfg)
    log = next(tmp_path.glob('*/*.log')).read_text()
    lines = [line for line in log.splitlines() if 'Epoch(train)' in line]
    assert [line.split('Epoch(train)')[1].split(']')[0].strip(' [') for line in lines] == [
        '3', '6', '7']


def sgd(*lrs, depths=None):
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in lrs]
    groups = [dict(params=[p], lr=lr) for p, lr in zip(params, lrs)]
    for group, depth in zip(groups, depths or []):
        group['layer_depth'] = depth
    return torch.optim.SGD(groups, lr=1.0)


def test_group_lrs__one_entry_per_distinct_lr_nothing_when_all_equal():
    assert group_lrs(sgd(0.1, 0.1, 0.1)) == {}
    assert group_lrs(sgd(0.1, 0.1, 0.5, 0.1)) == {'lr_group0': 0.1, 'lr_group2': 0.5}
    decayed = sgd(1.0, 1.0, 0.5, 0.5, depths=[2, 2, 1, 1])  # decay / no-decay pairs
    assert group_lrs(decayed) == {'lr_depth2': 1.0, 'lr_depth1': 0.5}


def test_param_group_lr_hook__puts_each_lr_in_the_message_hub():
    hub = MessageHub.get_instance('test_param_group_lr_hook')
    runner = SimpleNamespace(optim_wrapper=SimpleNamespace(optimizer=sgd(0.2, 0.4)),
                             message_hub=hub)
    ParamGroupLrHook().before_train_iter(runner, 0)
    assert hub.get_scalar('train/lr_group0').current() == 0.2
    assert hub.get_scalar('train/lr_group1').current() == 0.4
