"""Read what mmengine's Runner would from a config (input size, train pipeline,
collate function), outside a Runner. Loading a config and building its model:
:mod:`mmmim.config_loading`."""
import copy
from functools import partial
from typing import Optional, Tuple

from mmengine.config import Config
from mmengine.registry import FUNCTIONS

__all__ = ['input_size', 'train_pipeline', 'collate_function']

# Keys of a crop transform that give its output size, with the order of a pair:
# mmcv / mmpretrain transforms take (w, h), torchvision-style ``size`` (h, w).
CROP_SIZE_KEYS = (('crop_size', 'wh'), ('scale', 'wh'), ('size', 'hw'))
DEFAULT_IMAGE_SIZE = 224
HW = Tuple[int, int]


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
