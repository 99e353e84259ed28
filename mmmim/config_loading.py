"""Load a config (ours or another package's) and build its model as mmengine's Runner
would, outside a Runner: the one config loader of ``tools/train.py``, the checkpoint
importer (:func:`mmmim.converters.import_file`) and the bench (``tools/mimbench``)."""
import copy
import importlib
import os.path as osp
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Iterator, List, Optional, Sequence

from mmengine.config import Config, ConfigDict, DictAction
from mmengine.registry import MODELS, DefaultScope, Registry
from torch import nn

from mmmim.mmcv_ops import is_missing_ops, missing_ops_message

__all__ = ['ConfigLoadError', 'load_config', 'parse_cfg_options', 'config_scope',
           'model_config', 'build_model_from_cfg', 'import_mmmim_modules', 'registry_chain']

MMMIM_MODULES = ('mmmim.models', 'mmmim.engine', 'mmmim.datasets')


class ConfigLoadError(Exception):
    """A config that cannot be loaded: its file is missing, or loading it (its
    ``custom_imports``) needs mmcv's compiled ops, which are not installed."""


def load_config(path: str, options: Optional[dict] = None) -> Config:
    """A config file, or a package's config named ``'mmpretrain::mae/xxx.py'``
    (resolved through mmengine's hub, which finds the installed package's configs),
    with ``options`` (``--cfg-options``) merged in.

    Raises :class:`ConfigLoadError` naming the file when it does not exist, or naming
    the install command when loading it needs mmcv's missing compiled ops."""
    if '::' in path:
        from mmengine.hub import get_config
        cfg = get_config(path)
    elif not osp.isfile(path):
        raise ConfigLoadError(f'config file not found: {path}')
    else:
        try:
            cfg = Config.fromfile(path)  # runs the config's custom_imports
        except ImportError as error:
            if not is_missing_ops(error):
                raise
            raise ConfigLoadError(missing_ops_message(path)) from error
    if options:
        cfg.merge_from_dict(options)
    return cfg


def parse_cfg_options(pairs: Optional[Sequence[str]]) -> dict:
    """``['a.b=1', 'c=[1,2]']`` -> ``{'a.b': 1, 'c': [1, 2]}`` as ``--cfg-options`` does."""
    if not pairs:
        return {}
    namespace = SimpleNamespace()
    DictAction(option_strings=[], dest='options')(None, namespace, list(pairs))
    return namespace.options


def import_mmmim_modules() -> None:
    """Import mmmim's registering packages so every mmmim module is in its registry,
    whatever the default scope of the config being built."""
    import mmmim  # noqa: F401  (stack shims first)
    import mmmim.registry  # noqa: F401  (child registries of mmpretrain's)
    for name in MMMIM_MODULES:
        importlib.import_module(name)


def registry_chain(registry: Registry) -> List[Registry]:
    """``registry``, its parent, ... up to mmengine's root: where a config's ``type``
    is looked up (e.g. for the registered names near an unknown type)."""
    chain = []
    while registry is not None:
        chain.append(registry)
        registry = registry.parent
    return chain


@contextmanager
def config_scope(cfg: Config) -> Iterator[None]:
    """Build inside the config's own ``default_scope`` ('mmmim', 'mmpretrain', ...),
    restoring the previous scope afterwards."""
    import_mmmim_modules()
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope')):
        yield


def model_config(cfg: Config) -> dict:
    """A copy of ``cfg.model`` with a top-level ``data_preprocessor`` merged in, as
    mmengine's Runner does (the model's own one wins)."""
    model = copy.deepcopy(cfg.model)
    model = model.to_dict() if hasattr(model, 'to_dict') else dict(model)
    preprocessor = cfg.get('data_preprocessor')
    if preprocessor is not None:
        preprocessor = preprocessor.to_dict() if hasattr(preprocessor, 'to_dict') \
            else preprocessor
        model.setdefault('data_preprocessor', copy.deepcopy(preprocessor))
    return model


def build_model_from_cfg(cfg: Config, init_weights: bool = True) -> nn.Module:
    """The config's model, built in the config's scope and initialized as the Runner
    does. Call it inside :func:`config_scope` to keep using that scope afterwards."""
    with config_scope(cfg):  # ConfigDict: mmdet models read attributes (train_cfg.rpn)
        model = MODELS.build(ConfigDict(model_config(cfg)))
        if init_weights and hasattr(model, 'init_weights'):
            model.init_weights()
    return model
