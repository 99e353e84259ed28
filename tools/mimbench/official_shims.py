"""Compatibility shims that let the official pretraining codes (written for timm 0.3.2,
numpy < 1.24, torch < 2) import and run today, applied only inside the benchmark's
worker process and never by editing the user's checkout.

Each shim is installed only where the current environment lacks what the old code
expects, and reports itself the first time the old code actually uses it: a line on
stderr and an entry in :attr:`Shims.used` (the record's ``shims`` list).

- ``turtle``: UM-MAE's Swin files carry a stray ``from turtle import pos``; where
  ``import turtle`` fails (no Tk), a stub module serves ``pos``.
- ``numpy``: ``np.float`` / ``np.int`` / ``np.bool`` (removed in numpy 1.24 / 2) as
  the builtins they aliased (the sin-cos position embeddings use ``np.float``).
- ``timm Block``: ``qk_scale`` (removed from timm's ``Block`` in 0.9) is dropped when
  it is None (the default scale, which timm applies anyway); any other value raises.
- ``torch._six`` (removed in torch 2): a stub with ``inf`` and ``string_classes``.
- ``timm.models.layers`` (a deprecated alias of ``timm.layers``): aliased if missing.
- fp32 islands under CPU autocast (:meth:`Shims.fp32_forward`): a module written for
  CUDA fp16 autocast that breaks under CPU bf16 autocast (LocalMIM's ``HOGLayer``
  scatters an autocast-dtype magnitude into a float32 tensor; CUDA autocast runs
  ``norm`` in fp32, CPU autocast does not) runs its forward in fp32, autocast off.
"""
import importlib
import inspect
import math
import sys
import types
from typing import Callable, Dict, List

__all__ = ['Shims', 'ReportingModule', 'NUMPY_ALIASES']

_NOT_GIVEN = object()

NUMPY_ALIASES = {'float': float, 'int': int, 'bool': bool, 'object': object, 'str': str}


class ReportingModule(types.ModuleType):
    """A stand-in module whose attributes report their first use to ``on_use``."""

    def __init__(self, name: str, attributes: Dict[str, object],
                 on_use: Callable[[str], None]) -> None:
        super().__init__(name)
        self._attributes = attributes
        self._on_use = on_use

    def __getattr__(self, attribute: str):
        if attribute.startswith('_') or attribute not in self._attributes:
            raise AttributeError(f'module {self.__name__!r} (a benchmark stub) has no '
                                 f'attribute {attribute!r}')
        self._on_use(f'{self.__name__}.{attribute}')
        return self._attributes[attribute]


class Shims:
    """Installs the shims (:meth:`install`) and collects the ones used (:attr:`used`)."""

    def __init__(self, log: Callable[[str], None] = None) -> None:
        self.used: List[str] = []
        self._log = log or (lambda line: print(line, file=sys.stderr, flush=True))

    def report(self, shim: str) -> None:
        if shim not in self.used:
            self.used.append(shim)
            self._log(f'[benchmark_official] shim used: {shim}')

    def install(self) -> None:
        self.stub_module_if_unimportable('turtle', dict(pos=_turtle_pos), 'turtle')
        self.stub_module_if_unimportable(
            'torch._six', dict(inf=math.inf, string_classes=(str, bytes), int_classes=int),
            'torch._six')
        self.alias_numpy_types()
        self.alias_timm_layers()
        self.drop_qk_scale_from_timm_block()

    # ------------------------------------------------------------------ the shims
    def stub_module_if_unimportable(self, name: str, attributes: Dict[str, object],
                                    label: str) -> None:
        try:
            importlib.import_module(name)
        except ImportError as error:
            reason = f'{type(error).__name__}: {error}'
            sys.modules[name] = ReportingModule(
                name, attributes,
                lambda what: self.report(f'{label}: stub {what} (import failed: {reason})'))

    def alias_numpy_types(self) -> None:
        import numpy as np
        missing = {k: v for k, v in NUMPY_ALIASES.items() if k not in np.__dict__}
        if not missing:
            return
        fallback = np.__dict__.get('__getattr__')

        def numpy_getattr(attribute: str):
            if attribute in missing:
                self.report(f'numpy: np.{attribute} -> {missing[attribute].__name__} '
                            f'(removed in numpy {np.__version__})')
                return missing[attribute]
            if fallback is None:
                raise AttributeError(f"module 'numpy' has no attribute {attribute!r}")
            return fallback(attribute)

        np.__getattr__ = numpy_getattr

    def alias_timm_layers(self) -> None:
        try:
            importlib.import_module('timm.models.layers')
        except ImportError:
            layers = importlib.import_module('timm.layers')
            sys.modules['timm.models.layers'] = layers
            self.report('timm: timm.models.layers -> timm.layers')

    def drop_qk_scale_from_timm_block(self) -> None:
        vision_transformer = importlib.import_module('timm.models.vision_transformer')
        base = vision_transformer.Block
        if 'qk_scale' in inspect.signature(base.__init__).parameters:
            return
        report = self.report

        class Block(base):
            __doc__ = base.__doc__

            def __init__(self, *args, qk_scale=_NOT_GIVEN, **kwargs) -> None:
                if qk_scale is _NOT_GIVEN:
                    return super().__init__(*args, **kwargs)
                if qk_scale is not None:
                    raise TypeError(f'timm Block has no qk_scale any more; the checkout '
                                    f'passes qk_scale={qk_scale!r}, which cannot be dropped')
                report('timm: Block(qk_scale=None) dropped (timm >= 0.9 has no qk_scale; '
                       'None is the default head_dim ** -0.5 it applies)')
                super().__init__(*args, **kwargs)

        Block.__module__, Block.__qualname__ = base.__module__, base.__qualname__
        vision_transformer.Block = Block


    def fp32_forward(self, cls: type, why: str) -> None:
        """``cls.forward`` with autocast disabled and floating inputs as float32."""
        import torch
        forward = cls.forward
        report = self.report

        def forward_in_fp32(module, *args, **kwargs):
            report(f'{cls.__name__}.forward in fp32 under CPU autocast ({why})')
            args = [a.float() if torch.is_tensor(a) and a.is_floating_point() else a
                    for a in args]
            with torch.autocast('cpu', enabled=False):
                return forward(module, *args, **kwargs)

        cls.forward = forward_in_fp32


def _turtle_pos(*args, **kwargs):
    raise RuntimeError('turtle.pos is a benchmark stub (the official code imports it '
                       'but never calls it)')
