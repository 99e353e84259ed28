"""Stack shims of mmmim.compat, each checked against the failure it fixes."""
import importlib
import io
import pickle
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import Dataset

import mmmim  # noqa: F401  (applies the shims)
import mmmim.engine  # noqa: F401
from mmmim import compat


class ToyData(Dataset):
    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int) -> dict:
        return dict(inputs=torch.full((2,), float(i)))


class ToyModel(BaseModel):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='loss'):
        return dict(loss=self.linear(inputs).pow(2).mean())


def toy_runner(work_dir: Path, resume: bool = False, max_epochs: int = 1) -> Runner:
    """A Runner with mmmim's training pieces (guarded optim wrapper, resumable loop
    and sampler, random-state hook) that checkpoints every iteration."""
    return Runner(
        model=ToyModel(), work_dir=str(work_dir), default_scope='mmmim',
        experiment_name=f'compat_{work_dir.name}_{int(resume)}',
        train_dataloader=dict(dataset=ToyData(), batch_size=4, num_workers=0,
                              sampler=dict(type='ResumableSampler', shuffle=True),
                              collate_fn=dict(type='default_collate')),
        train_cfg=dict(type='ResumableEpochBasedTrainLoop', max_epochs=max_epochs),
        optim_wrapper=dict(type='GuardedOptimWrapper',
                           optimizer=dict(type='AdamW', lr=0.01)),
        param_scheduler=dict(type='CosineAnnealingLR', T_max=4, by_epoch=False),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1,
                                           by_epoch=False)),
        custom_hooks=[dict(type='RandomStateHook')], resume=resume,
        randomness=dict(seed=0))


@pytest.fixture(scope='module')
def training_checkpoint(tmp_path_factory) -> Path:
    """A checkpoint written by the Runner after 2 iterations."""
    work_dir = tmp_path_factory.mktemp('compat_run')
    toy_runner(work_dir).train()
    return work_dir / 'iter_2.pth'


@contextmanager
def safe_globals_removed(*names: str):
    """torch's user allow-list without the entries named (all when none named)."""
    saved = torch.serialization.get_safe_globals()
    keep = [g for g in saved if names and not any(
        n in str(g) or n in getattr(g, '__qualname__', '') for n in names)]
    torch.serialization.clear_safe_globals()
    torch.serialization.add_safe_globals(keep)
    try:
        yield
    finally:
        torch.serialization.clear_safe_globals()
        torch.serialization.add_safe_globals(saved)


def test_training_checkpoint__resumes_under_default_weights_only_load(training_checkpoint):
    checkpoint = torch.load(training_checkpoint)  # torch's default: weights_only=True
    assert {'message_hub', 'optimizer', 'param_schedulers', 'random_states'} <= set(checkpoint)
    runner = toy_runner(training_checkpoint.parent, resume=True, max_epochs=2)
    runner.train()  # Runner.resume -> torch.load without weights_only
    assert runner.iter == 4


@pytest.mark.parametrize('removed, refused', [
    ((), 'HistoryBuffer'),
    (('history_buffer_statistic',), 'getattr'),
], ids=['no_allow_list', 'no_getattr_stand_in'])
def test_training_checkpoint__refused_without_the_allow_list(training_checkpoint, removed,
                                                             refused):
    with safe_globals_removed(*removed), pytest.raises(pickle.UnpicklingError,
                                                       match=refused):
        torch.load(training_checkpoint)


class Arbitrary:
    pass


def saved(obj) -> io.BytesIO:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    buffer.seek(0)
    return buffer


def test_weights_only__stays_on_arbitrary_class_refused():
    with pytest.raises(pickle.UnpicklingError, match='Arbitrary'):
        torch.load(saved({'state_dict': {}, 'extra': Arbitrary()}))


class GetattrOnNumpy:
    def __reduce__(self):
        return getattr, (np.ndarray, 'tofile')


def test_getattr_stand_in__resolves_only_history_buffer_statistics():
    from mmengine.logging.history_buffer import HistoryBuffer
    assert compat.history_buffer_statistic(HistoryBuffer, 'mean') is HistoryBuffer.mean
    with pytest.raises(pickle.UnpicklingError, match='only the statistics methods'):
        torch.load(saved({'x': GetattrOnNumpy()}))


def test_numpy_in1d__restored_for_mmpretrain_retrieval_metrics():
    assert np.in1d([1, 2, 3], [2]).tolist() == [False, True, False]
    from mmpretrain.evaluation.metrics import RetrievalRecall
    recall = RetrievalRecall.calculate(torch.tensor([[0.1, 0.9, 0.2]]),
                                       torch.tensor([[0, 1, 0]]), topk=1)
    assert float(recall[0]) == 100.0


@pytest.mark.parametrize('backend', ['pillow', 'cv2'])
def test_adjust_hue__negative_factors_rotate_the_hue_the_other_way(backend):
    from mmcv.image import photometric
    from skimage import data
    bgr = np.ascontiguousarray(data.astronaut()[::4, ::4, ::-1])
    shim = photometric.adjust_hue
    assert shim is compat.adjust_hue                     # routed at import
    original = importlib.reload(photometric).adjust_hue  # mmcv's own function
    try:
        with pytest.raises(OverflowError):               # what numpy 2 does to it
            original(bgr, -0.2, backend=backend)
        for factor in (0.1, 0.5):                        # unchanged where it worked
            np.testing.assert_array_equal(shim(bgr, factor, backend=backend),
                                          original(bgr, factor, backend=backend))
        turned = shim(shim(bgr, 0.2, backend=backend), -0.2, backend=backend)
        assert np.abs(turned.astype(int) - bgr).mean() < 3  # a turn back (HSV rounding)
        assert np.abs(shim(bgr, -0.2, backend=backend).astype(int) - bgr).mean() > 10
    finally:
        compat.route_adjust_hue()


def test_color_jitter__runs_with_hue_under_numpy_2():
    from mmpretrain.datasets.transforms import ColorJitter
    from skimage import data
    jitter = ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.5)
    np.random.seed(0)
    for _ in range(8):                                   # both signs of the hue factor
        out = jitter({'img': np.ascontiguousarray(data.chelsea()[..., ::-1])})['img']
        assert out.shape == (300, 451, 3) and out.dtype == np.uint8


def test_mmpretrain_multimodal__off_with_transformers_5_untouched_before(monkeypatch):
    import importlib.metadata as metadata

    import mmpretrain.utils.dependency as dependency

    from mmmim.compat import keep_mmpretrain_multimodal_off
    monkeypatch.setattr(dependency, 'WITH_MULTIMODAL', True)
    monkeypatch.setattr(metadata, 'version', lambda name: '4.46.0')
    assert not keep_mmpretrain_multimodal_off() and dependency.WITH_MULTIMODAL
    monkeypatch.setattr(metadata, 'version', lambda name: '5.2.0')
    assert keep_mmpretrain_multimodal_off() and not dependency.WITH_MULTIMODAL
