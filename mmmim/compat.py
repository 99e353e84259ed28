"""Shims for the OpenMMLab stack on current torch / numpy, applied once at import.

Each shim is small, idempotent and has a test in ``tests/test_compat.py`` that fails
without it:

1. ``torch.load`` defaults to ``weights_only=True`` since torch 2.6; mmengine 0.10.7
   checkpoints hold a few non-tensor objects (``HistoryBuffer`` of the message hub,
   numpy arrays and scalars). They are allow-listed so resume works with the safe
   loader. ``weights_only`` is never switched off: loading a checkpoint never runs
   code from it. ``HistoryBuffer`` pickles its statistics methods by reference,
   which pickle writes as ``getattr(HistoryBuffer, 'mean')``: the name
   ``builtins.getattr`` is allow-listed as a stand-in that resolves only those
   methods and refuses any other look-up.
2. numpy 2 removed ``np.in1d`` (used by mmpretrain's retrieval metrics); it is
   restored as an alias of ``np.isin``, which has the same semantics for 1-D input.
3. SciPy 1.14 removed ``interpolate.interp2d``, which mmpretrain uses to resize Swin
   relative position bias tables across window sizes (pretraining window 8 ->
   fine-tuning window 16); it is restored as the bicubic ``RectBivariateSpline`` it
   computed on rectangular grids.
"""
import pickle

import numpy as np
import torch

HISTORY_BUFFER_STATISTICS = ('min', 'max', 'current', 'mean')


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


def history_buffer_statistic(owner: type, name: str):
    """Stand-in for ``getattr`` while a checkpoint loads with ``weights_only=True``:
    only ``HistoryBuffer``'s statistics methods (``min``, ``max``, ``current``,
    ``mean`` and others registered on the class) resolve; anything else is refused."""
    from mmengine.logging.history_buffer import HistoryBuffer
    allowed = set(HISTORY_BUFFER_STATISTICS) | set(HistoryBuffer._statistics_methods)
    if owner is HistoryBuffer and name in allowed:
        return getattr(owner, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({owner!r}, {name!r}): only the statistics methods '
        'of mmengine\'s HistoryBuffer may be looked up while loading a checkpoint')


def allow_training_checkpoint_globals() -> list:
    """Allow-list what an mmengine training checkpoint holds besides tensors.

    Returns:
        list: the globals registered with ``torch.serialization.add_safe_globals``.
    """
    from mmengine.logging.history_buffer import HistoryBuffer
    safe = [HistoryBuffer, (history_buffer_statistic, 'builtins.getattr'),
            *_numpy_checkpoint_globals()]
    if hasattr(torch.serialization, 'add_safe_globals'):
        torch.serialization.add_safe_globals(safe)
    return safe


def restore_numpy_aliases() -> None:
    """Re-add numpy aliases that numpy 2 removed and the stack still calls."""
    if not hasattr(np, 'in1d'):
        np.in1d = np.isin


def restore_scipy_interp2d() -> None:
    """SciPy 1.14 removed ``interpolate.interp2d``; mmpretrain resizes Swin / BEiT
    relative position bias tables with ``interp2d(x, y, z, kind='cubic')`` on a
    rectangular grid when a checkpoint's window size differs. On a rectangular grid
    interp2d computed the interpolating (s=0) bicubic spline, i.e.
    ``RectBivariateSpline``; it is restored as that."""
    from scipy import interpolate
    try:
        interpolate.interp2d([0., 1.], [0., 1.], [[0., 0.], [0., 0.]])
        return
    except NotImplementedError:
        pass

    def interp2d(x, y, z, kind='cubic'):
        k = {'linear': 1, 'cubic': 3, 'quintic': 5}[kind]
        spline = interpolate.RectBivariateSpline(
            y, x, z, kx=min(k, len(x) - 1), ky=min(k, len(y) - 1))
        return lambda x_new, y_new: spline(y_new, x_new)

    interpolate.interp2d = interp2d


allow_training_checkpoint_globals()
restore_numpy_aliases()
restore_scipy_interp2d()
