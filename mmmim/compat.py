"""Shims for the OpenMMLab stack on current torch / numpy, applied once at import.

Each shim is small, idempotent and has a test that fails without it
(``tests/test_compat.py``; the resizer routing in ``tests/test_models/test_pos_embed.py``):

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
3. mmpretrain's position-embedding and relative-table resizers (the latter calls
   SciPy's ``interp2d``, removed in SciPy 1.14, on every Swin window change, e.g.
   pretraining window 8 -> fine-tuning window 16) are replaced in mmpretrain's
   backbone modules by mmmim's single resizer (:mod:`mmmim.models.pos_embed`), so
   every load path resizes alike.
4. mmcv's ``adjust_hue`` (mmpretrain's ``ColorJitter(hue=...)``) shifts the hue channel
   by ``np.uint8(hue_factor * 255)``, which numpy 2 refuses for a negative factor
   (``OverflowError: Python integer -29 out of bounds for uint8``): every second
   jittered image fails. :func:`adjust_hue` rotates the hue channel modulo 256 the
   same way and replaces it where mmcv and mmpretrain look it up.
5. mmpretrain 1.2 imports its multimodal models whenever transformers >= 4.28 is
   installed; under transformers 5 they fail at import and take ``import mmmim`` with
   them. With transformers >= 5 they stay switched off (mmmim uses none of them), so
   the transformers export (``tools/model_converters/export_hf.py``) can share the
   environment.
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


def _mmpretrain_resize_pos_embed(pos_embed, src_shape, dst_shape, mode='bicubic',
                                 num_extra_tokens=1):
    """mmpretrain's ``resize_pos_embed`` signature over mmmim's resizer."""
    from mmmim.models.pos_embed import resize_abs_pos_embed
    return resize_abs_pos_embed(pos_embed, tuple(dst_shape), tuple(src_shape),
                                num_extra_tokens=num_extra_tokens, mode=mode)


def keep_mmpretrain_multimodal_off() -> bool:
    """mmpretrain 1.2 imports its multimodal (BLIP, ...) models whenever transformers
    >= 4.28 is installed, and those import names transformers 5 removed, so
    ``import mmpretrain.models`` fails (``TypeError: NoneType takes no arguments``).
    mmmim uses none of them: with transformers >= 5 they stay placeholders, as without
    transformers. Runs before anything imports ``mmpretrain.models``."""
    import importlib.metadata as metadata
    try:
        major = int(metadata.version('transformers').split('.')[0])
    except metadata.PackageNotFoundError:
        return False
    if major < 5:
        return False
    import mmpretrain.utils.dependency as dependency
    dependency.WITH_MULTIMODAL = False
    return True


def route_mmpretrain_resizers() -> list:
    """Route mmpretrain's position-embedding and relative-table resizing through
    :mod:`mmmim.models.pos_embed`, so that a checkpoint loaded by mmpretrain's own
    ``load_state_dict`` hooks gets the same tensors as through our converters.

    Every mmpretrain module that imported ``resize_pos_embed`` (the same bicubic
    math) or ``resize_relative_position_bias_table`` (BEiT's geometric resampling,
    which calls SciPy's ``interp2d``, removed in SciPy 1.14, so a Swin window change
    fails without this) gets mmmim's function under that name. Returns the
    ``module.name`` entries routed (idempotent).
    """
    import sys

    import mmpretrain.models.backbones  # noqa: F401  (imports every backbone module)
    from mmpretrain.models.utils import embed

    from mmmim.models.pos_embed import resize_table_of_side
    pairs = ((embed.resize_pos_embed, _mmpretrain_resize_pos_embed),
             (embed.resize_relative_position_bias_table, resize_table_of_side))
    routed = []
    for name, module in list(sys.modules.items()):
        if not name.startswith('mmpretrain.') or module is embed or module is None:
            continue
        for attr, value in list(vars(module).items()):
            for theirs, ours in pairs:
                if value is theirs or value is ours:
                    setattr(module, attr, ours)
                    routed.append(f'{name}.{attr}')
    return routed


def adjust_hue(img: np.ndarray, hue_factor: float, backend=None) -> np.ndarray:
    """mmcv's ``adjust_hue`` contract (BGR ``[H, W, 3]`` in, same dtype out; the hue
    rotated by ``hue_factor`` in [-0.5, 0.5] of a turn, 256 steps per turn) for any
    sign of ``hue_factor`` under numpy 2."""
    import cv2
    from PIL import Image
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f'hue_factor:{hue_factor} is not in [-0.5, 0.5].')
    if not (isinstance(img, np.ndarray) and img.ndim in (2, 3)):
        raise TypeError('img should be ndarray with dim=[2 or 3].')
    from mmcv.image import io
    backend = backend or io.imread_backend
    if backend not in ('cv2', 'pillow'):
        raise ValueError(f'backend: {backend} is not supported. '
                         "Supported backends are 'cv2', 'pillow'")
    shift = int(hue_factor * 255) % 256          # C's wrap of a negative shift
    rotate = lambda h: ((h.astype(np.int16) + shift) % 256).astype(np.uint8)  # noqa: E731
    if backend == 'pillow':
        hsv = Image.fromarray(img.astype(np.uint8)[..., ::-1], mode='RGB').convert('HSV')
        h, s, v = hsv.split()
        h = Image.fromarray(rotate(np.array(h)), 'L')
        rgb = Image.merge('HSV', (h, s, v)).convert('RGB')
        return np.array(rgb, dtype=img.dtype)[..., ::-1]
    h, s, v = cv2.split(cv2.cvtColor(img.astype(np.uint8), cv2.COLOR_BGR2HSV_FULL))
    bgr = cv2.cvtColor(cv2.merge([rotate(h), s, v]), cv2.COLOR_HSV2BGR_FULL)
    return bgr.astype(img.dtype)


def route_adjust_hue() -> list:
    """Put :func:`adjust_hue` where mmcv exports it (``mmcv``, ``mmcv.image``,
    ``mmcv.image.photometric``); returns the names replaced (idempotent)."""
    import mmcv
    import mmcv.image
    from mmcv.image import photometric
    routed = []
    for module in (mmcv, mmcv.image, photometric):
        if getattr(module, 'adjust_hue', None) is not adjust_hue:
            module.adjust_hue = adjust_hue
            routed.append(f'{module.__name__}.adjust_hue')
    return routed


allow_training_checkpoint_globals()
restore_numpy_aliases()
keep_mmpretrain_multimodal_off()
route_mmpretrain_resizers()
route_adjust_hue()
