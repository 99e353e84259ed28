"""mmmim: efficient masked image modeling on the OpenMMLab stack."""
from . import (
    checkpoint_io,  # noqa: F401  (mmengine reads local checkpoints through it)
    compat,  # noqa: F401  (stack shims; must run before anything loads)
)
from .version import __version__


def _register_mmpretrain_modules() -> None:
    """mmpretrain's own modules (PackInputs, UniversalVisualizer, ...) reach mmmim's
    child registries only once mmpretrain has imported them."""
    from mmpretrain.utils import register_all_modules
    register_all_modules(init_default_scope=False)


_register_mmpretrain_modules()

__all__ = ['__version__']
