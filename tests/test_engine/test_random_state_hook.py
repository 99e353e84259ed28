"""RandomStateHook: every global generator's state goes into checkpoints and comes
back on resume (and only on resume)."""
import io
import random
from types import SimpleNamespace

import numpy as np
import torch

from mmmim.engine import (
    RandomStateHook,
    capture_random_states,
    preserved_random_states,
    restore_random_states,
)


def draws() -> tuple:
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def test_restore__python_numpy_torch_draw_the_same_again():
    states = capture_random_states()
    first = draws()
    restore_random_states(states)
    assert draws() == first


def test_preserved_random_states__block_leaves_generators_untouched():
    states = capture_random_states()
    with preserved_random_states():
        draws()
    after = draws()
    restore_random_states(states)
    assert draws() == after


def test_hook__checkpoint_round_trip_weights_only_and_resume_only():
    hook = RandomStateHook()
    checkpoint = {}
    hook.before_save_checkpoint(None, checkpoint)
    assert len(checkpoint['random_states']) == 1  # one entry per rank
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)
    expected = draws()

    hook.after_load_checkpoint(SimpleNamespace(_resume=False), loaded)  # load_from
    assert draws() != expected

    runner = SimpleNamespace(_resume=True, logger=SimpleNamespace(info=lambda msg: None))
    hook.after_load_checkpoint(runner, loaded)
    draws()  # anything drawn between loading and training (e.g. a re-seed) ...
    hook.before_train(runner)  # ... is undone right before the first iteration
    assert draws() == expected
