"""An autouse fixture for test modules that build under mmdet / mmseg (or run a
Runner that sets the scope): the tests after them find the default scope as it was.
Import it into a test module: ``from default_scope import default_scope_as_found``."""
import pytest


@pytest.fixture(autouse=True)
def default_scope_as_found():
    """mmengine's DefaultScope instances as before the test (the latest is current)."""
    from mmengine.registry import DefaultScope
    before = dict(DefaultScope._instance_dict)
    yield
    DefaultScope._instance_dict.clear()
    DefaultScope._instance_dict.update(before)
