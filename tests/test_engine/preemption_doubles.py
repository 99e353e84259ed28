"""A test double for the preemption tests, importable by the training processes they
start (``custom_imports=dict(imports=['preemption_doubles'])``)."""
import signal
from typing import Sequence

from mmengine.dist import get_rank
from mmengine.hooks import Hook

from mmmim.registry import HOOKS


@HOOKS.register_module()
class TestSignalHook(Hook):
    """Send ``signal`` to this process on rank ``rank`` right after iteration
    ``after_iter`` (1-based), before the PreemptionCheckpointHook looks: a
    deterministic stand-in for Slurm's signal. ``plan``: ``[after_iter, rank,
    signal name]`` triples."""

    priority = 'NORMAL'

    def __init__(self, plan: Sequence[Sequence]) -> None:
        self.plan = [(int(i), int(r), str(name)) for i, r, name in plan]

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        for after_iter, rank, name in self.plan:
            if runner.iter + 1 == after_iter and get_rank() == rank:
                signal.raise_signal(getattr(signal, name))  # handled before it returns
