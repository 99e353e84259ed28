"""ZeroRedundancyOptimizer (optimizer states sharded across ranks) in real 2-rank gloo
runs of tools/train.py: the same losses and checkpointed states as plain AdamW, every
rank holding only its shard, and an exact resume.

Run as a script (under torchrun) this file is the worker of those runs."""
import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest
import torch
from engine_runs import ROOT, tiny_demo_cfg
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.optim import OptimWrapper
from test_launchers import ENGINE_TESTS, free_port, run_group

from mmmim.checkpoint_io import read_checkpoint
from mmmim.engine.optimizers.zero import (
    NOT_CONSOLIDATED,
    NOT_DISTRIBUTED,
    ZeroRedundancyOptimizer,
    consolidate_sharded_states,
)
from mmmim.registry import HOOKS

# slow: left out of `make test-fast` (make test runs everything)
pytestmark = pytest.mark.slow

#: the documented switch from AdamW to ZeRO-sharded AdamW
ZERO_OPTIONS = ['optim_wrapper.optimizer.type=ZeroRedundancyOptimizer',
                'optim_wrapper.optimizer.optimizer_type=AdamW']


@HOOKS.register_module(force=True)
class TestShardSizeHook(Hook):
    """After training, writes the optimizer's class and how many parameters have
    optimizer state on this rank (in ZeRO's local optimizer) to
    ``out_dir/shard_rank<r>.json``."""

    def __init__(self, out_dir: str) -> None:
        self.out_dir = out_dir

    def after_train(self, runner) -> None:
        optimizer = runner.optim_wrapper.optimizer
        local = getattr(optimizer, 'optim', optimizer)  # ZeRO's local optimizer
        Path(self.out_dir, f'shard_rank{runner.rank}.json').write_text(
            json.dumps(dict(with_state=len(local.state), type=type(optimizer).__module__)))


def zero_cfg(images_dir, work_dir):
    """The tiny demo config (AdamW with weight-decay groups) on 12 images at 2 images
    per rank: 3 iterations per epoch, 2 epochs, checkpoints after iterations 2, 4, 6.
    The AdamW run steps with the per-parameter loop (``fused_step=False``), as
    ZeRO's local AdamW does on the CPU, so both do the same arithmetic."""
    return tiny_demo_cfg(images_dir, work_dir, batch_size=2, max_epochs=2, ckpt_interval=2, **{
        'optim_wrapper.fused_step': False,
        'custom_hooks': [dict(type='RandomStateHook'), dict(type='TestRecordHook'),
                         dict(type='TestShardSizeHook')],
        'custom_imports': dict(imports=['engine_doubles'], allow_failed_imports=False)})


def run_args(config, root: Path, name: str, options=(), flags=()) -> list:
    """tools/train.py arguments of run ``name``: its work dir and record folder, then
    ``flags`` (``--amp``, ``--resume PATH``) and ``options`` (``--cfg-options``)."""
    record_dir = root / 'records' / name
    record_dir.mkdir(parents=True)
    return [str(config), '--work-dir', str(root / name), '--launcher', 'pytorch',
            *map(str, flags), '--cfg-options', f'experiment_name={name}',
            f'custom_hooks.1.out_dir={record_dir}', f'custom_hooks.2.out_dir={record_dir}',
            *options]


def records(root: Path, name: str, rank: int) -> list:
    text = (root / 'records' / name / f'rank{rank}.jsonl').read_text()
    return [json.loads(line) for line in text.splitlines()]


def shard(root: Path, name: str, rank: int) -> dict:
    return json.loads((root / 'records' / name / f'shard_rank{rank}.json').read_text())


def test_zero__two_ranks_same_losses_and_states_as_adamw_and_resume_exact(
        small_photos_dir, tmp_path):
    """Runs of ``tools/train.py --launcher pytorch`` in one 2-rank gloo group: plain
    AdamW; AdamW sharded by ZeroRedundancyOptimizer (the documented ``--cfg-options``);
    the ZeRO run resumed from its checkpoint after iteration 4 (mid-epoch); and one
    epoch of each optimizer with ``--amp`` (bfloat16, GuardedAmpOptimWrapper).

    - ZeRO gives every rank's loss of all 6 iterations equal to AdamW's, exactly
      (with ``--amp`` too): DDP gives both the same gradients, each parameter gets
      the same AdamW update on its owner rank, and the broadcast copies it.
    - Sharded: each rank holds the state of some parameters only, the two ranks
      together of every parameter AdamW has state for.
    - The checkpoint after iteration 4 holds the complete state (consolidated on
      rank 0 from both ranks): every state tensor equal to AdamW's checkpoint's.
    - Resume: the resumed iterations 5-6 give exactly the losses of the
      uninterrupted ZeRO run, and its last checkpoint the same weights and
      optimizer state.
    - Then, on a 4-parameter model: rank 0's ``state_dict()`` is refused until the
      ranks consolidate, complete once after it, and refused again after that
      (the copy is dropped) and after the next step (it would be stale).
    """
    config = tmp_path / 'zero_cfg.py'
    zero_cfg(small_photos_dir, tmp_path / 'unused').dump(config)
    one_epoch = ['train_cfg.max_epochs=1']
    runs = [run_args(config, tmp_path, 'adamw'),
            run_args(config, tmp_path, 'zero', ZERO_OPTIONS),
            run_args(config, tmp_path, 'resumed', ZERO_OPTIONS,
                     ['--resume', tmp_path / 'zero' / 'iter_4.pth']),
            run_args(config, tmp_path, 'adamw_amp', one_epoch, ['--amp']),
            run_args(config, tmp_path, 'zero_amp', ZERO_OPTIONS + one_epoch, ['--amp'])]
    (tmp_path / 'runs.json').write_text(json.dumps(runs))
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=os.pathsep.join(
        [str(ENGINE_TESTS), str(ENGINE_TESTS.parent), str(ROOT)]))
    result = run_group([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
                        f'--master_port={free_port()}', __file__, tmp_path / 'runs.json'],
                       env, timeout=300)
    assert result.returncode == 0, result.stdout[-6000:]

    for rank in (0, 1):
        adamw, zero = records(tmp_path, 'adamw', rank), records(tmp_path, 'zero', rank)
        assert [r['iter'] for r in zero] == list(range(6))
        assert [r['paths'] for r in zero] == [r['paths'] for r in adamw]
        assert [r['loss'] for r in zero] == [r['loss'] for r in adamw]
        resumed = records(tmp_path, 'resumed', rank)
        assert [r['iter'] for r in resumed] == [4, 5]
        assert [r['loss'] for r in resumed] == [r['loss'] for r in zero[4:]]
        amp, zero_amp = (records(tmp_path, name, rank) for name in ('adamw_amp', 'zero_amp'))
        assert len(zero_amp) == 3 and [r['loss'] for r in zero_amp] == [r['loss'] for r in amp]

    zero_shards = [shard(tmp_path, 'zero', rank) for rank in (0, 1)]
    assert {s['type'] for s in zero_shards} == {ZeroRedundancyOptimizer.__module__}
    shards = [s['with_state'] for s in zero_shards]
    total = shard(tmp_path, 'adamw', 0)['with_state']
    assert sum(shards) == total and 0 < min(shards) and max(shards) < total, (shards, total)

    sharded = read_checkpoint(tmp_path / 'zero' / 'iter_4.pth')['optimizer']
    plain = read_checkpoint(tmp_path / 'adamw' / 'iter_4.pth')['optimizer']
    assert_same_states(sharded['state'], plain['state'])
    assert len(sharded['state']) == total
    assert sharded['param_groups'] == plain['param_groups']  # weight-decay groups too
    last, last_resumed = (read_checkpoint(tmp_path / name / 'iter_6.pth')
                          for name in ('zero', 'resumed'))
    assert_same_states(last_resumed['optimizer']['state'], last['optimizer']['state'])
    for key, value in last['state_dict'].items():
        assert torch.equal(last_resumed['state_dict'][key], value), key

    refused = NOT_CONSOLIDATED[:40]
    answers = json.loads((tmp_path / 'state_dict_answers.json').read_text())
    assert answers == [refused, 4, refused, refused]


def assert_same_states(states: dict, expected: dict) -> None:
    """Optimizer states (index -> name -> tensor) equal, exactly."""
    assert sorted(states) == sorted(expected)
    for index, state in expected.items():
        assert sorted(states[index]) == sorted(state), index
        for name, value in state.items():
            assert torch.equal(states[index][name], value), (index, name)


def test_zero__without_a_process_group_says_it_needs_a_distributed_run():
    with pytest.raises(RuntimeError, match='tools/dist_train.sh') as error:
        ZeroRedundancyOptimizer(torch.nn.Linear(2, 2).parameters(), lr=1e-3)
    assert str(error.value) == NOT_DISTRIBUTED


def state_dict_answers(out_file: Path) -> None:
    """On every rank of a 2-rank group, with a 4-parameter model: what rank 0's
    ``state_dict()`` gives after a step, after :func:`consolidate_sharded_states`,
    a second time, and after the next step (the number of parameters with state,
    or the error's first words)."""
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    wrapper = OptimWrapper(ZeroRedundancyOptimizer(model.parameters(), lr=0.1))
    answers = []

    def step() -> None:
        model(torch.ones(1, 3)).sum().backward()
        wrapper.step()

    def answer() -> None:
        if get_rank() != 0:
            return
        try:
            answers.append(len(wrapper.state_dict()['state']))
        except RuntimeError as error:
            answers.append(str(error)[:40])

    step()
    answer()
    consolidate_sharded_states(wrapper)  # every rank
    answer()
    answer()
    step()
    answer()
    if get_rank() == 0:
        out_file.write_text(json.dumps(answers))


def worker(runs_file: str) -> None:
    """Run every argument list of ``runs_file`` through tools/train.py's ``main``,
    one after the other, in this torchrun process."""
    spec = importlib.util.spec_from_file_location('mmmim_train_tool',
                                                  ROOT / 'tools' / 'train.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    for argv in json.loads(Path(runs_file).read_text()):
        tool.main(argv)
    state_dict_answers(Path(runs_file).with_name('state_dict_answers.json'))
    tool.release_process_group()


if __name__ == '__main__':
    worker(sys.argv[1])
