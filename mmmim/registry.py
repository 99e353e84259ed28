"""mmmim registries: children of mmpretrain's (and so of mmengine's) registries.

With ``default_scope='mmmim'`` a config finds every mmmim module without manual
imports, every mmpretrain / mmengine module by plain name (parent lookup), and mmdet
/ mmseg modules by scope prefix (``type='mmdet.MaskRCNN'``).

Making a new module visible: register it in the registry below and import its file in
the ``__init__.py`` of the package the registry names as its location (the one
place per registry): the first look-up imports that package. ``mmmim.models`` holds
MODELS, ``mmmim.datasets`` DATASETS and TRANSFORMS, ``mmmim.engine`` the hooks,
loops, optimizer wrappers and DATA_SAMPLERS, ``mmmim.converters`` CONVERTERS and the
weight initializers, ``mmmim.visualization`` the visualizers.

Weight initializers are the one exception: mmengine's ``init_weights`` looks them up
from its root registry under any default scope (mmdet / mmseg configs too), so mmmim
registers its ``MIMPretrained`` there, once; the child below only imports it (its
location) when a config with default scope ``mmmim`` names it.

Conversely, configs of another default scope (mmdet, mmseg) name mmmim modules as
``'mmmim.X'`` once ``mmmim`` is imported
(``custom_imports=dict(imports=['mmmim.engine', 'mmmim.models'])``).
"""
from mmengine.registry import Registry
from mmpretrain import registry as mmpretrain_registry


def _child(name: str, parent: Registry, *locations: str) -> Registry:
    """A registry of scope ``mmmim`` under ``parent``, reachable as ``'mmmim.Name'``.

    A scoped type is looked up among the registry's own children, then among the root
    registry's children, and mmmim's registries are grandchildren of the root (root ->
    mmpretrain -> mmmim). Listing the new registry among its root's children too (its
    parent stays ``parent``) lets mmdet / mmseg configs name ``type='mmmim.X'`` /
    ``constructor='mmmim.X'``.
    """
    registry = Registry(name, parent=parent, scope='mmmim', locations=list(locations))
    parent.root.children.setdefault(registry.scope, registry)
    return registry


_pre = mmpretrain_registry
RUNNERS = _child('runner', _pre.RUNNERS, 'mmmim.engine')
RUNNER_CONSTRUCTORS = _child('runner constructor', _pre.RUNNER_CONSTRUCTORS, 'mmmim.engine')
LOOPS = _child('loop', _pre.LOOPS, 'mmmim.engine')
HOOKS = _child('hook', _pre.HOOKS, 'mmmim.engine')
LOG_PROCESSORS = _child('log processor', _pre.LOG_PROCESSORS, 'mmmim.engine')
OPTIMIZERS = _child('optimizer', _pre.OPTIMIZERS, 'mmmim.engine')
OPTIM_WRAPPERS = _child('optim wrapper', _pre.OPTIM_WRAPPERS, 'mmmim.engine')
OPTIM_WRAPPER_CONSTRUCTORS = _child('optimizer wrapper constructor',
                                    _pre.OPTIM_WRAPPER_CONSTRUCTORS, 'mmmim.engine')
PARAM_SCHEDULERS = _child('parameter scheduler', _pre.PARAM_SCHEDULERS, 'mmmim.engine')
DATASETS = _child('dataset', _pre.DATASETS, 'mmmim.datasets')
DATA_SAMPLERS = _child('data sampler', _pre.DATA_SAMPLERS, 'mmmim.engine')
TRANSFORMS = _child('transform', _pre.TRANSFORMS, 'mmmim.datasets')
MODELS = _child('model', _pre.MODELS, 'mmmim.models')
MODEL_WRAPPERS = _child('model_wrapper', _pre.MODEL_WRAPPERS, 'mmmim.models')
WEIGHT_INITIALIZERS = _child('weight initializer', _pre.WEIGHT_INITIALIZERS, 'mmmim.converters')
METRICS = _child('metric', _pre.METRICS, 'mmmim.engine')
EVALUATORS = _child('evaluator', _pre.EVALUATORS, 'mmmim.engine')
VISUALIZERS = _child('visualizer', _pre.VISUALIZERS, 'mmmim.visualization')
VISBACKENDS = _child('vis_backend', _pre.VISBACKENDS, 'mmmim.visualization')

# Checkpoint converters: pure functions ``state_dict -> (state_dict, LoadReport)``,
# one per (source backbone family, target library).
CONVERTERS = Registry('converter', scope='mmmim', locations=['mmmim.converters'])

