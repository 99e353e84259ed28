"""CPUBudgetHook: the training CPU clock leaves the validation loops out, stops the
loop once at the budget, and stamps every train and validation entry with it. (A real
run stopped by its budget: tests/test_tools/test_digits_claims.py.)"""
from types import SimpleNamespace

import pytest

from mmmim.engine.hooks import CPUBudgetHook, cpu_budget_hook


class FakeHub:
    def __init__(self):
        self.scalars = {}

    def update_scalar(self, key, value):
        self.scalars[key] = value


@pytest.fixture
def clock(monkeypatch):
    """A settable ``time.process_time`` for the hook."""
    now = SimpleNamespace(t=0.)
    monkeypatch.setattr(cpu_budget_hook.time, 'process_time', lambda: now.t)
    return now


def fake_runner():
    return SimpleNamespace(message_hub=FakeHub(), train_loop=SimpleNamespace(stop_training=False),
                           val_loop=None, iter=0)


def test_clock__counts_training_not_validation_and_stops_at_the_budget(clock):
    hook, runner = CPUBudgetHook(cpu_seconds=3.), fake_runner()
    clock.t = 10.
    hook.before_train(runner)
    clock.t = 12.
    hook.after_train_iter(runner, 0)
    assert runner.message_hub.scalars['train/cpu_s'] == 2.
    assert not runner.train_loop.stop_training
    hook.before_val(runner)
    clock.t = 50.                                   # 38 s of probing: not counted
    hook.after_val(runner)
    assert runner.message_hub.scalars['val/cpu_s'] == 2.
    clock.t = 50.5
    hook.after_train_iter(runner, 1)
    assert runner.message_hub.scalars['train/cpu_s'] == 2.5
    assert not runner.train_loop.stop_training
    clock.t = 51.
    hook.after_train_iter(runner, 2)
    assert runner.train_loop.stop_training and hook.stopped_at == 3.


def test_no_budget__only_counts(clock):
    hook, runner = CPUBudgetHook(), fake_runner()
    hook.before_train(runner)
    clock.t = 1e6
    hook.after_train_iter(runner, 0)
    assert runner.message_hub.scalars['train/cpu_s'] == 1e6
    assert not runner.train_loop.stop_training


def test_non_positive_budget__refused():
    with pytest.raises(ValueError, match='cpu_seconds must be > 0'):
        CPUBudgetHook(cpu_seconds=0)


class CountingValLoop:
    def __init__(self):
        self.runs = 0

    def run(self):
        self.runs += 1


@pytest.mark.parametrize('last_validated_iter, extra_runs', [(20, 1), (25, 0)])
def test_validate_at_end__only_when_the_loop_did_not_just_validate(
        clock, last_validated_iter, extra_runs):
    hook, runner = CPUBudgetHook(save_at_stop=False), fake_runner()
    runner.val_loop = CountingValLoop()
    runner.iter = last_validated_iter
    hook.after_val_epoch(runner, {})
    runner.iter = 25                                # the run ends at iteration 25
    hook.after_train(runner)
    assert runner.val_loop.runs == extra_runs


def test_validate_at_start__once_before_the_first_iteration_only(clock):
    hook, runner = CPUBudgetHook(validate_at_start=True), fake_runner()
    runner.val_loop = CountingValLoop()
    hook.before_train(runner)
    hook.before_train_iter(runner, 0)
    runner.iter = 1
    hook.before_train_iter(runner, 1)
    assert runner.val_loop.runs == 1
