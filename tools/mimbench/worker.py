"""``python tools/mimbench/worker.py MODULE ARG ... --worker-out OUT``: run
``MODULE.main(ARG ... --worker-out OUT)`` (a ``mimbench`` module) in this fresh
process. :func:`mimbench.isolate.run_worker` starts it, so that a measurement's peak
memory and process state are its own."""
import importlib
import sys
from pathlib import Path

TOOLS = Path(__file__).resolve().parents[1]


def main(argv) -> int:
    """Import ``argv[0]`` (``'mimbench.cli'``, ``'mimbench.official'``, ...) and call
    its ``main`` with the rest of ``argv``."""
    module, *rest = argv
    return importlib.import_module(module).main(rest)


if __name__ == '__main__':
    # tools/, not this folder, is where imports start (mimbench's modules are not
    # top-level modules: config, data, ... would shadow other packages' names)
    sys.path[0] = str(TOOLS)
    sys.exit(main(sys.argv[1:]))
