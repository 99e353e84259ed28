"""Pretraining runs on an mmcv without its compiled ops (the demo's install skips their
11-minute build); what needs them says how to get them."""
import subprocess
import sys
from pathlib import Path

import pytest
from mmengine.registry import Registry

from mmmim.mmcv_ops import INSTALL_OPS, is_missing_ops, register_needs_ops

ROOT = Path(__file__).resolve().parents[1]
# an interpreter whose mmcv has no compiled ops: importing mmcv._ext fails as it does
# for mmcv built with MMCV_WITH_OPS=0
WITHOUT_OPS = '''
import sys
class NoOps:
    def find_spec(self, name, path=None, target=None):
        if name == 'mmcv._ext':
            raise ModuleNotFoundError("No module named 'mmcv._ext'", name='mmcv._ext')
sys.meta_path.insert(0, NoOps())
'''


def missing_ops_error() -> ModuleNotFoundError:
    return ModuleNotFoundError("No module named 'mmcv._ext'", name='mmcv._ext')


def test_a_module_that_needs_the_ops_builds_into_an_error_naming_the_install():
    registry = Registry('test')
    register_needs_ops(registry, 'NeedsOps', missing_ops_error())
    with pytest.raises(RuntimeError, match=r'NeedsOps needs mmcv.s compiled ops.*'
                       + INSTALL_OPS.replace(' ', r'\s')):
        registry.build(dict(type='NeedsOps', depth=2))


def test_missing_ops_are_found_inside_the_import_errors_raised_from_them():
    try:
        try:
            raise missing_ops_error()
        except ImportError as inner:
            raise ImportError('Failed to import custom modules') from inner
    except ImportError as wrapped:
        assert is_missing_ops(wrapped)
    assert not is_missing_ops(ImportError('Failed to import custom modules'))


def test_any_other_import_error_is_raised_as_it_is():
    other = ModuleNotFoundError("No module named 'mmdet'", name='mmdet')
    assert not is_missing_ops(other) and is_missing_ops(missing_ops_error())
    with pytest.raises(ModuleNotFoundError, match='mmdet'):
        register_needs_ops(Registry('test'), 'NeedsOps', other)


def test_pretraining_imports_and_builds_a_vit_without_the_ops_and_pvt_says_how():
    """tools/train.py's imports and the demo's model need no mmcv._ext; MaskedPVT
    (mmdet's PVT) stops naming the install that adds them."""
    code = WITHOUT_OPS + '''
sys.path.insert(0, 'tools')
import train  # noqa: F401  (tools/train.py's imports: mmmim, its engine and models)
from mmengine.config import Config
from mmmim.registry import MODELS
MODELS.build(Config.fromfile('configs/demo/mae_vit-tiny_demo.py').model)
try:
    MODELS.build(dict(type='MaskedPVT'))
except RuntimeError as error:
    print('PVT:', error)
print('ops imported:', 'mmcv._ext' in sys.modules)
'''
    done = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert 'PVT: MaskedPVT needs mmcv\'s compiled ops' in done.stdout
    assert INSTALL_OPS in done.stdout and 'ops imported: False' in done.stdout
