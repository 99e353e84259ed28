"""Load a config (ours or another package's) and build or read what mmengine's Runner
would from it (model, input size, collate function), outside a Runner."""
import copy
import importlib
from contextlib import contextmanager
from functools import partial
from types import SimpleNamespace
from typing import Iterator, Optional, Sequence, Tuple

from mmengine.config import Config, ConfigDict, DictAction
from mmengine.registry import FUNCTIONS, MODELS, DefaultScope
from torch import nn

__all__ = ['load_config', 'parse_cfg_options', 'config_scope', 'model_config',
           'build_model_from_cfg', 'import_mmmim_modules', 'input_size', 'train_pipeline',
           'collate_function']

MMMIM_MODULES = ('mmmim.models', 'mmmim.engine', 'mmmim.datasets')
# Keys of a crop transform that give its output size, with the order of a pair:
# mmcv / mmpretrain transforms take (w, h), torchvision-style ``size`` (h, w).
CROP_SIZE_KEYS = (('crop_size', 'wh'), ('scale', 'wh'), ('size', 'hw'))
DEFAULT_IMAGE_SIZE = 224
HW = Tuple[int, int]


def import_mmmim_modules() -> None:
    """Import mmmim's registering packages so every mmmim module is in its registry,
    whatever the default scope of the config being built."""
    import mmmim  # noqa: F401  (stack shims first)
    import mmmim.registry  # noqa: F401  (child registries of mmpretrain's)
    for name in MMMIM_MODULES:
        importlib.import_module(name)


def parse_cfg_options(pairs: Optional[Sequence[str]]) -> dict:
    """``['a.b=1', 'c=[1,2]']`` -> ``{'a.b': 1, 'c': [1, 2]}`` as ``--cfg-options`` does."""
    if not pairs:
        return {}
    namespace = SimpleNamespace()
    DictAction(option_strings=[], dest='options')(None, namespace, list(pairs))
    return namespace.options


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """A config file, or a package's config named ``'mmpretrain::mae/xxx.py'``
    (resolved through mmengine's hub, which finds the installed package's configs)."""
    if '::' in path:
        from mmengine.hub import get_config
        cfg = get_config(path)
    else:
        cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


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


def _as_hw(value, order: str) -> Optional[HW]:
    """An int or a pair in ``order`` ('hw' or 'wh') -> ``(h, w)``; anything else -> None."""
    if isinstance(value, int):
        return value, value
    if isinstance(value, (list, tuple)) and len(value) == 2 \
            and all(isinstance(v, int) for v in value):
        return (value[0], value[1]) if order == 'hw' else (value[1], value[0])
    return None


def _find_pipeline(dataset) -> list:
    """Transforms of a dataset config, looking through wrappers (``dataset``/``datasets``)."""
    if not isinstance(dataset, dict):
        return []
    if isinstance(dataset.get('pipeline'), (list, tuple)):
        return list(dataset['pipeline'])
    inner = dataset.get('dataset') or (dataset.get('datasets') or [None])[0]
    return _find_pipeline(inner)


def _find_key(node, key: str):
    """First value of ``key`` in a nested config, depth first."""
    if isinstance(node, dict):
        if key in node:
            return node[key]
        node = list(node.values())
    if isinstance(node, (list, tuple)):
        for value in node:
            found = _find_key(value, key)
            if found is not None:
                return found
    return None


def train_pipeline(cfg: Config) -> list:
    """The transforms of ``train_dataloader.dataset`` (looking through dataset wrappers),
    else a top-level ``train_pipeline``; ``[]`` when the config has neither."""
    dataset = (cfg.get('train_dataloader') or {}).get('dataset')
    return _find_pipeline(dataset) or list(cfg.get('train_pipeline') or [])


def pipeline_crop_size(cfg: Config) -> Optional[HW]:
    """Output size ``(h, w)`` of the last crop of the train pipeline, if any."""
    size = None
    for transform in train_pipeline(cfg):
        if not (isinstance(transform, dict) and 'Crop' in str(transform.get('type', ''))):
            continue
        for key, order in CROP_SIZE_KEYS:
            hw = _as_hw(transform.get(key), order)
            if hw is not None:
                size = hw
                break
    return size


def input_size(cfg: Config, override: Optional[int] = None) -> HW:
    """``(h, w)``: ``override``, else the train pipeline's crop, else the first
    ``img_size`` in the model config, else 224."""
    if override:
        return override, override
    return (pipeline_crop_size(cfg) or _as_hw(_find_key(cfg.get('model'), 'img_size'), 'hw')
            or (DEFAULT_IMAGE_SIZE, DEFAULT_IMAGE_SIZE))


def collate_function(cfg: Config):
    """The config's train ``collate_fn``, built as mmengine's Runner does
    (default ``pseudo_collate``)."""
    spec = (cfg.get('train_dataloader') or {}).get('collate_fn', dict(type='pseudo_collate'))
    if callable(spec):
        return spec
    spec = dict(copy.deepcopy(spec))
    function = spec.pop('type')
    # A config inheriting another package's (``_base_ = 'mmpretrain::...'``) gets
    # that package's scope as ``_scope_`` on its dicts; look the function up there.
    scope = spec.pop('_scope_', None)
    if isinstance(function, str):
        with FUNCTIONS.switch_scope_and_registry(scope) as registry:
            found = registry.get(function)
        if found is None:
            raise KeyError(f'collate_fn {function} is not in the {registry.scope}::function '
                           'registry')
        function = found
    return partial(function, **spec)
