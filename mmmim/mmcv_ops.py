"""mmcv's compiled ops (``mmcv._ext``): what needs them and how to get them.

Pretraining ViT and Swin imports none of them, so ``bash tools/install.sh`` (the
demo's install) may leave mmcv without them; detection and segmentation (mmdet's and
mmseg's models), mmdet's PVT (``MaskedPVT``) and the test suite need them, and
``bash tools/install.sh --ops`` (``--tests`` too) installs them into the same
environment (a cached wheel, else a build: about 11 minutes on 2 cores, once).
"""
import importlib.util
from typing import Callable, Optional

from mmengine.registry import Registry

INSTALL_OPS = 'bash tools/install.sh --ops'
EXT_MODULE = 'mmcv._ext'


def has_mmcv_ops() -> bool:
    """Whether mmcv's compiled ops are installed (without importing them)."""
    try:
        return importlib.util.find_spec(EXT_MODULE) is not None
    except ModuleNotFoundError:  # no mmcv at all
        return False


def missing_ops_message(what: str) -> str:
    """The error for ``what`` (a config, a module) that needs the compiled ops."""
    return (f"{what} needs mmcv's compiled ops ({EXT_MODULE}), which this mmcv lacks "
            f'(the pretraining install skips them): run `{INSTALL_OPS}` (a cached '
            'wheel, else a build of about 11 minutes on 2 cores, once)')


def is_missing_ops(error: Optional[BaseException]) -> bool:
    """Whether ``error``, or an error it was raised from (mmengine wraps a failed
    ``custom_imports`` in its own ImportError), is the import of the missing ops."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, ModuleNotFoundError) and error.name == EXT_MODULE:
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


def register_needs_ops(registry: Registry, name: str, error: ModuleNotFoundError
                       ) -> Callable:
    """Register under ``name`` a builder that stops with :func:`missing_ops_message`,
    for a module whose import failed with ``error`` for want of the compiled ops (any
    other import error is raised). Returns the builder."""
    if not is_missing_ops(error):
        raise error

    def needs_ops(*args, **kwargs):
        raise RuntimeError(missing_ops_message(name))

    needs_ops.__name__ = name
    registry.register_module(name=name, module=needs_ops)
    return needs_ops
