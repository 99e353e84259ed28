"""Capture and restore the random number generators a training process draws from:
python ``random``, numpy's global generator, torch's CPU generator and every CUDA
device's. Captured states hold only what ``torch.load(weights_only=True)`` accepts
(tuples, lists, numbers, strings, tensors), so checkpoints stay safe to load.

DataLoader worker processes have generators of their own; they are seeded by
mmengine's ``worker_init_fn`` and cannot be captured from the main process.
"""
import logging
import random
from contextlib import contextmanager
from typing import Dict, Iterator

import numpy as np
import torch
from mmengine.logging import print_log

RandomStates = Dict[str, object]


def capture_random_states() -> RandomStates:
    """The current states of the process's global random generators."""
    kind, keys, pos, has_gauss, cached_gauss = np.random.get_state()
    return dict(
        python=random.getstate(),
        numpy=(kind, keys.tolist(), int(pos), int(has_gauss), float(cached_gauss)),
        torch=torch.get_rng_state(),
        cuda=torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [])


def restore_random_states(states: RandomStates) -> None:
    """Set the global random generators to ``states`` (from
    :func:`capture_random_states`). CUDA states are restored only when the number
    of visible devices matches.

    The torch states may arrive on a GPU (a checkpoint loaded with
    ``map_location='cuda'``, as mmengine's resume does on a GPU node); torch's
    generators take only CPU byte tensors, so they are copied to the CPU first."""
    version, internal, gauss_next = states['python']
    random.setstate((version, tuple(internal), gauss_next))
    kind, keys, pos, has_gauss, cached_gauss = states['numpy']
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss,
                         cached_gauss))
    torch.set_rng_state(states['torch'].cpu())
    cuda = [state.cpu() for state in states.get('cuda') or []]
    if cuda and torch.cuda.is_available():
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)
        else:
            print_log(f'CUDA random states of {len(cuda)} devices saved, '
                      f'{torch.cuda.device_count()} visible: not restored',
                      logger='current', level=logging.WARNING)


@contextmanager
def preserved_random_states() -> Iterator[None]:
    """Run a block without changing the global random generators' states."""
    states = capture_random_states()
    try:
        yield
    finally:
        restore_random_states(states)
