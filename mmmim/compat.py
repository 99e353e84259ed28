"""Shims for the OpenMMLab stack on current torch / numpy, applied once at import.

Each shim is small, idempotent and has a test in ``tests/test_compat.py`` that fails
without it:

1. ``torch.load`` defaults to ``weights_only=True`` since torch 2.6; mmengine 0.10.7
   checkpoints hold a few non-tensor objects (``HistoryBuffer`` of the message hub,
   numpy arrays and scalars). They are allow-listed so resume works with the safe
   loader. ``weights_only`` is never switched off: loading a checkpoint never runs
   code from it.
2. numpy 2 removed ``np.in1d`` (used by mmpretrain's retrieval metrics); it is
   restored as an alias of ``np.isin``, which has the same semantics for 1-D input.
"""
import numpy as np
import torch


def _numpy_checkpoint_globals() -> list:
    """numpy objects that pickled arrays and scalars reference."""
    try:  # numpy >= 2
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar
    dtype_classes = [type(np.dtype(name)) for name in (
        'float64', 'float32', 'float16', 'int64', 'int32', 'int16', 'int8',
        'uint8', 'bool', 'complex64', 'complex128')]
    return [_reconstruct, scalar, np.ndarray, np.dtype, *dtype_classes]


def allow_training_checkpoint_globals() -> list:
    """Allow-list what an mmengine training checkpoint holds besides tensors.

    Returns:
        list: the globals registered with ``torch.serialization.add_safe_globals``.
    """
    from mmengine.logging.history_buffer import HistoryBuffer
    safe = [HistoryBuffer, *_numpy_checkpoint_globals()]
    if hasattr(torch.serialization, 'add_safe_globals'):
        torch.serialization.add_safe_globals(safe)
    return safe


def restore_numpy_aliases() -> None:
    """Re-add numpy aliases that numpy 2 removed and the stack still calls."""
    if not hasattr(np, 'in1d'):
        np.in1d = np.isin


allow_training_checkpoint_globals()
restore_numpy_aliases()
