"""mmmim: efficient masked image modeling on the OpenMMLab stack."""
from . import compat  # noqa: F401  (stack shims; must run before anything loads)
from .version import __version__

__all__ = ['__version__']
