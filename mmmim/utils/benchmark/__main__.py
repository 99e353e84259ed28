"""``python -m mmmim.utils.benchmark``: see :mod:`mmmim.utils.benchmark.cli`."""
import sys

from .cli import main

sys.exit(main())
