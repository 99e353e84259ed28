"""Optimizer states sharded across ranks (ZeRO stage 1), with checkpoints and resume.

torch's ``ZeroRedundancyOptimizer`` (wrapped by mmengine's, which takes the local
optimizer by name) gives each rank the states of about ``1 / world_size`` of the
parameters: it steps those and broadcasts the updated parameters to the other ranks.
AdamW keeps 8 bytes of state per float32 parameter (``exp_avg``, ``exp_avg_sq``).

Saving needs every rank: ``consolidate_state_dict()`` gathers the shards on rank 0
with collectives. mmengine's ``state_dict()`` calls it itself, but mmengine's
``Runner.save_checkpoint`` runs on rank 0 only (``master_only``), so in a run of
several processes the first checkpoint would wait forever for the other ranks, or
meet their next collective. Here the two are apart:

- :func:`consolidate_sharded_states` gathers, on every rank; the checkpoint hook calls
  it before each save that includes the optimizer;
- :class:`ZeroRedundancyOptimizer`'s ``state_dict()`` on rank 0 returns that
  consolidated state, once (the gathered copy is dropped after it, and at the next
  step), and refuses to return a missing or stale one.

Resuming needs nothing more: every rank loads the complete state and keeps its shard.
"""
from typing import Any, Dict

import torch.distributed as dist
from mmengine.optim import OptimWrapperDict
from mmengine.optim import ZeroRedundancyOptimizer as MMEngineZeRO
from torch.distributed.optim import ZeroRedundancyOptimizer as TorchZeRO

from mmmim.registry import OPTIMIZERS

NOT_DISTRIBUTED = (
    'ZeroRedundancyOptimizer shards optimizer states across the processes of a '
    'distributed run, and this process has none: start several with '
    'tools/dist_train.sh or tools/slurm_train.sh, or use the plain optimizer '
    "(e.g. optim_wrapper.optimizer.type='AdamW').")
NOT_CONSOLIDATED = (
    'ZeroRedundancyOptimizer.state_dict() on rank 0 needs the shards of every rank, '
    'gathered since the last step by consolidate_sharded_states(optim_wrapper) called '
    'on every rank (mmmim\'s AtomicCheckpointHook does this before each save); it is '
    'not called by rank 0 alone because the other ranks would not join the gather.')


@OPTIMIZERS.register_module()
class ZeroRedundancyOptimizer(MMEngineZeRO):
    """mmengine's ``ZeroRedundancyOptimizer`` (the same config) whose ``state_dict()``
    does not gather on its own, so that rank 0 alone can save it.

    Registered under mmengine's name in mmmim's scope: a config with
    ``default_scope='mmmim'`` that names ``ZeroRedundancyOptimizer`` builds this one.

    Args:
        params: parameters or parameter groups (``paramwise_cfg`` groups work: torch
            shards every group across the ranks).
        optimizer_type: the local optimizer, a ``torch.optim`` class name.
        **kwargs: its arguments (``lr``, ``betas``, ``weight_decay``...) and torch's
            ``ZeroRedundancyOptimizer`` options (``parameters_as_bucket_view``).
    """

    def __init__(self, params, optimizer_type: str = 'AdamW', **kwargs) -> None:
        if not (dist.is_available() and dist.is_initialized()):
            raise RuntimeError(NOT_DISTRIBUTED)
        super().__init__(params, optimizer_type, **kwargs)

    def step(self, *args, **kwargs):
        """Step this rank's shard and broadcast it; a gathered state is stale after."""
        self._all_state_dicts = []
        return super().step(*args, **kwargs)

    def state_dict(self) -> Dict[str, Any]:
        """The complete state on rank 0 (as torch's ``ZeroRedundancyOptimizer`` gives
        it), from the last :func:`consolidate_sharded_states`; ``{}`` on other ranks
        (as mmengine's). In a one-process group rank 0 gathers by itself."""
        if self.rank != 0:
            return {}
        if not self._all_state_dicts:
            if self.world_size > 1:
                raise RuntimeError(NOT_CONSOLIDATED)
            self.consolidate_state_dict(to=0)
        try:
            return TorchZeRO.state_dict(self)
        finally:
            self._all_state_dicts = []  # a full copy of the states on rank 0's CPU


def consolidate_sharded_states(optim_wrapper) -> None:
    """Gather the shards of every :class:`ZeroRedundancyOptimizer` in
    ``optim_wrapper`` (an ``OptimWrapper`` or ``OptimWrapperDict``) on rank 0, so
    that rank 0's ``optim_wrapper.state_dict()`` is complete.

    A collective: every rank must call it at the same point. Nothing happens for
    other optimizers.
    """
    wrappers = (optim_wrapper.values() if isinstance(optim_wrapper, OptimWrapperDict)
                else [optim_wrapper])
    for wrapper in wrappers:
        if isinstance(wrapper.optimizer, ZeroRedundancyOptimizer):
            wrapper.optimizer.consolidate_state_dict(to=0)
