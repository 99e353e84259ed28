"""Test doubles registered in mmmim's registries, importable by training processes
that the tests start (``custom_imports=dict(imports=['engine_doubles'])`` with this
folder on PYTHONPATH)."""
import json
import os
import time
from typing import Iterable, List, Optional

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.logging import MessageHub
from mmengine.model import is_model_wrapper
from torch import nn

from mmmim.models.losses.reconstruction import MaskedReconstructionLoss
from mmmim.models.maskers.random_masker import RandomMasker, grid_of, random_mask
from mmmim.models.structures import MaskSet
from mmmim.registry import HOOKS, MODELS


def _model(runner) -> nn.Module:
    return runner.model.module if is_model_wrapper(runner.model) else runner.model


@HOOKS.register_module()
class TestRecordHook(Hook):
    """Per iteration: loss, image files, and (if the masker keeps one) the mask the
    masker drew from the process RNG. Kept in ``records``; also appended as JSON
    lines to ``out_dir/rank<r>.jsonl`` when ``out_dir`` is given."""

    priority = 'LOWEST'

    def __init__(self, out_dir: Optional[str] = None) -> None:
        self.out_dir = out_dir
        self.records: List[dict] = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        record = dict(iter=runner.iter, epoch=runner.epoch, batch_idx=batch_idx,
                      loss=float(outputs['loss']),
                      paths=[os.path.basename(s.img_path) for s in data_batch['data_samples']])
        drawn = getattr(_model(runner).masker, 'last_drawn_mask', None)
        if drawn is not None:
            record['drawn_mask'] = drawn.int().tolist()
        self.records.append(record)
        if self.out_dir:
            with open(os.path.join(self.out_dir, f'rank{get_rank()}.jsonl'), 'a') as f:
                f.write(json.dumps(record) + '\n')


@HOOKS.register_module()
class TestStopAfterHook(Hook):
    """Raise :class:`Interrupted` after the iteration ``stop_after`` (1-based), once
    the other hooks (checkpointing included) have run: a crash mid-run."""

    priority = 'LOWEST'

    def __init__(self, stop_after: int) -> None:
        self.stop_after = stop_after

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if runner.iter + 1 == self.stop_after:
            raise Interrupted(f'stopped after iteration {self.stop_after}')


class Interrupted(RuntimeError):
    """The simulated crash of :class:`TestStopAfterHook`."""


@HOOKS.register_module()
class TestParamSnapshotHook(Hook):
    """Copies of every parameter before and after each iteration (0-based keys)."""

    def __init__(self) -> None:
        self.before, self.after = {}, {}

    @staticmethod
    def _flat(runner) -> torch.Tensor:
        return torch.cat([p.detach().flatten() for p in _model(runner).parameters()]).clone()

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        self.before[runner.iter] = self._flat(runner)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self.after[runner.iter] = self._flat(runner)


@MODELS.register_module()
class TestContentSeededMasker(RandomMasker):
    """Masks that depend only on each image (seeded by its pixel sum), so two runs
    that split a batch differently still mask every image the same way.

    It also draws a mask exactly as :class:`RandomMasker` does, from the process RNG,
    and keeps it in ``last_drawn_mask`` (unused by the model), so a test can compare
    what the ranks' RNG streams would have masked."""

    def forward(self, images: torch.Tensor) -> MaskSet:
        self.last_drawn_mask = super().forward(images).mask
        grid = grid_of(images.shape[-2:], self.unit_size)
        num_units = grid[0] * grid[1]
        rows = []
        for image in images:
            seed = int(image.double().abs().sum().item() * 1000) % (2**31)
            generator = torch.Generator().manual_seed(seed)
            rows.append(random_mask(1, num_units, round(self.ratio * num_units),
                                    torch.device('cpu'), generator))
        return MaskSet(mask=torch.cat(rows).to(images.device), grid=grid,
                       unit_size=self.unit_size)


@MODELS.register_module()
class TestNaNLoss(MaskedReconstructionLoss):
    """The masked reconstruction loss, made NaN at the listed 0-based iterations
    (``runner.iter``, from the message hub)."""

    def __init__(self, nan_iters: Iterable[int] = (), **kwargs) -> None:
        super().__init__(**kwargs)
        self.nan_iters = set(nan_iters)

    def forward(self, pred, target, weight=None) -> torch.Tensor:
        loss = super().forward(pred, target, weight)
        if MessageHub.get_current_instance().get_info('iter') in self.nan_iters:
            loss = loss * float('nan')
        return loss


@HOOKS.register_module()
class TestHangInSaveHook(Hook):
    """Make the checkpoint of iteration ``at_iter`` (1-based, as its file name) large
    (``payload_mb`` of zeros) and stop its save in the middle: once the temporary
    file is written, ``os.fsync`` announces it by creating ``signal_file`` and
    sleeps, so the test can SIGKILL the process while the save is under way."""

    def __init__(self, at_iter: int, signal_file: str, payload_mb: int = 64) -> None:
        self.at_iter = at_iter
        self.signal_file = signal_file
        self.payload_mb = payload_mb

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if checkpoint['meta'].get('iter') != self.at_iter:
            return
        checkpoint['test_payload'] = torch.zeros(self.payload_mb * 2**18)  # float32
        signal_file = self.signal_file

        def announce_and_hang(fd: int) -> None:
            with open(signal_file, 'w') as f:
                f.write(str(os.getpid()))
            time.sleep(600)

        os.fsync = announce_and_hang
