"""Every module mmmim registers is found by its registry under the default scope
'mmmim' (after nothing but the registry's own lazy import), is registered in one
place, and builds from its registry when its constructor needs no arguments."""
import inspect
from typing import Dict, List, Tuple

import pytest
from mmengine.registry import WEIGHT_INITIALIZERS as ROOT_WEIGHT_INITIALIZERS
from mmengine.registry import DefaultScope, Registry

import mmmim.registry as mmmim_registry

#: Modules whose defaults deliberately do not make a usable object, and why.
NEED_CONFIG = {
    'ImageFolder': 'needs the folder of images (data_root)',
}


def mmmim_registries() -> Dict[str, Registry]:
    return {name: reg for name, reg in vars(mmmim_registry).items()
            if isinstance(reg, Registry)}


def registered_by_mmmim(registry: Registry) -> Dict[str, Tuple[object, List[Registry]]]:
    """``name -> (object, registries holding it)`` for objects defined in mmmim,
    found in ``registry`` or its ancestors after the registry's own lazy import."""
    registry.import_from_location()
    found: Dict[str, Tuple[object, List[Registry]]] = {}
    node = registry
    while node is not None:
        for name, obj in node.module_dict.items():
            if getattr(obj, '__module__', '').startswith('mmmim.'):
                found.setdefault(name, (obj, []))[1].append(node)
        node = node.parent
    return found


CASES = [(reg_name, name) for reg_name, reg in mmmim_registries().items()
         for name in sorted(registered_by_mmmim(reg))]


def test_registries__every_package_with_modules_registers_some():
    counts = {name: len(registered_by_mmmim(reg)) for name, reg in mmmim_registries().items()}
    for name in ('MODELS', 'DATASETS', 'TRANSFORMS', 'HOOKS', 'LOOPS', 'DATA_SAMPLERS',
                 'OPTIM_WRAPPERS', 'OPTIM_WRAPPER_CONSTRUCTORS', 'WEIGHT_INITIALIZERS',
                 'CONVERTERS'):
        assert counts[name] > 0, (name, counts)


@pytest.mark.parametrize('registry_name, name', CASES)
def test_registered_name__gets_and_builds_from_its_registry_in_scope_mmmim(
        registry_name, name):
    registry = mmmim_registries()[registry_name]
    obj, holders = registered_by_mmmim(registry)[name]
    assert len(holders) == 1, f'{name} registered in {[h.name for h in holders]}'
    if registry_name == 'WEIGHT_INITIALIZERS':  # found from every scope (mmdet, mmseg)
        assert holders == [ROOT_WEIGHT_INITIALIZERS]
    else:
        assert holders == [registry]
    module = getattr(obj, '__module__', '')
    assert any(module == loc or module.startswith(loc + '.') for loc in registry._locations), \
        f'{name} ({module}) lives outside the locations {registry._locations} of its registry'
    with DefaultScope.overwrite_default_scope('mmmim'):
        assert registry.get(name) is obj
        if not inspect.isclass(obj) or name in NEED_CONFIG:
            return
        if not needs_arguments(obj):
            assert isinstance(registry.build(dict(type=name)), obj)


def needs_arguments(cls: type) -> bool:
    """Whether constructing ``cls`` needs arguments; an ``__init__`` taking
    ``*args`` / ``**kwargs`` (to pass on) is looked through to its parent's."""
    for owner in cls.__mro__:
        if '__init__' not in vars(owner):
            continue
        params = list(inspect.signature(owner.__init__).parameters.values())[1:]
        if any(p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
               for p in params):
            return True
        if not any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params):
            return False
    return False
