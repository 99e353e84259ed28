"""Tiny-architecture overrides for the config contract test (tests/test_configs.py).

Each module here exports ``OVERRIDES: dict[str, Callable[[dict], None]]`` mapping a
registered type name (of an encoder, decoder, masker, target, ...) to a function that
shrinks that part of a model config in place (fewer/narrower layers, small input). A
config whose model uses a type without an override is shrunk as far as the other
overrides go. ``IMAGE_SIZE`` overrides may be given per encoder type through the
``'input_size'`` key the override sets on the model dict (pop-ed by the test).
"""
import importlib
import pkgutil
from typing import Callable, Dict, Optional


def collect() -> Dict[str, Callable[[dict], None]]:
    overrides: Dict[str, Callable[[dict], None]] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f'{__name__}.{info.name}')
        overrides.update(getattr(module, 'OVERRIDES', {}))
    return overrides


def shrink(node, sizes: list, overrides: Optional[Dict[str, Callable[[dict], None]]] = None
           ) -> None:
    """Apply the tiny override of every typed dict in a model config, depth first;
    append the input sizes the overrides ask for to ``sizes``."""
    overrides = collect() if overrides is None else overrides
    if isinstance(node, dict):
        for value in node.values():
            shrink(value, sizes, overrides)
        override = overrides.get(str(node.get('type', '')).split('.')[-1])
        if override is not None:
            override(node)
            if 'input_size' in node:
                sizes.append(node.pop('input_size'))
    elif isinstance(node, (list, tuple)):
        for value in node:
            shrink(value, sizes, overrides)
