"""Shared fixtures: the demo photographs on disk (full size and small), and capture of
mmengine's log."""
import logging
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

# mmmim's stack shims before any test module imports mmdet / mmseg directly (mmdet's
# import chain reaches transformers, which needs the shim): a file run alone collects
import mmmim  # noqa: F401,E402


@pytest.fixture(scope='session')
def demo_images_dir(tmp_path_factory) -> Path:
    """scikit-image's photographs written flat, once per session, by the same function
    as tools/dataset_converters/prepare_demo_images.py (about half a second)."""
    from mmmim.datasets.demo import write_demo_images
    out = tmp_path_factory.mktemp('demo_images')
    write_demo_images(out)
    return out


SMALL_PHOTOS = ('astronaut', 'camera', 'chelsea', 'coffee', 'coins', 'moon', 'page', 'rocket',
          'text', 'clock', 'brick', 'grass')


@pytest.fixture(scope='session')
def small_photos_dir(tmp_path_factory) -> Path:
    """12 of scikit-image's photographs at 48x48 as PNG files (unlabeled, flat).

    Smaller than the shared ``demo_images_dir`` photographs so that the several short
    training runs of these tests spend their time training, not decoding."""
    from PIL import Image
    from skimage import data
    out = tmp_path_factory.mktemp('small_photos')
    for name in SMALL_PHOTOS:
        image = Image.fromarray(np.asarray(getattr(data, name)())).convert('RGB')
        image.resize((48, 48), Image.BICUBIC).save(out / f'{name}.png')
    return out


class CapturedLog:
    """Messages logged while the test runs, also from forked data loader workers: the
    handler appends each message to a file (O_APPEND), which workers inherit."""

    SEPARATOR = '\x1e'  # ASCII record separator: messages may span lines

    def __init__(self, path: Path) -> None:
        self.path = path
        path.touch()

    def __iter__(self) -> Iterator[str]:
        return iter(self.path.read_text().split(self.SEPARATOR)[:-1])

    def __repr__(self) -> str:
        return repr(list(self))


class _AppendHandler(logging.Handler):
    """Appends every message to a CapturedLog's file."""

    def __init__(self, log: CapturedLog) -> None:
        super().__init__(level=logging.DEBUG)
        self.log = log

    def emit(self, record: logging.LogRecord) -> None:
        with open(self.log.path, 'a') as f:
            f.write(record.getMessage() + CapturedLog.SEPARATOR)


@pytest.fixture
def mmengine_log(tmp_path) -> Iterator[CapturedLog]:
    """Messages logged through mmengine's current logger (``print_log(logger='current')``)
    during the test, including forked data loader workers. mmengine loggers may not
    propagate, so caplog would miss them."""
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    log = CapturedLog(tmp_path / 'mmengine_log.txt')
    handler = _AppendHandler(log)
    logger.addHandler(handler)
    try:
        yield log
    finally:
        logger.removeHandler(handler)


@pytest.fixture(scope='session', autouse=True)
def external_config_index_read_once():
    """mmengine resolves every ``'mmseg::...'`` / ``'mmdet::...'`` base of a config by
    reading all of that package's metafiles again (about 1.5 s of YAML each, four
    times per mmseg benchmark config). The index is the same for the whole session,
    so it is read once per package here; lookups behave as mmengine's
    (``ValueError`` for a name without a metafile entry, i.e. a ``_base_`` file)."""
    from functools import lru_cache

    from mmengine.config import utils
    original = utils._get_cfg_metainfo

    @lru_cache(maxsize=None)
    def index(package_path: str) -> dict:
        names = {}
        for meta_path in utils.load(f'{package_path}/.mim/model-index.yml')['Import']:
            for model_cfg in utils.load(f'{package_path}/.mim/{meta_path}')['Models']:
                if 'Config' in model_cfg:
                    names.setdefault(model_cfg['Config'].partition('/')[-1], model_cfg)
        return names

    def lookup(package_path: str, cfg_path: str) -> dict:
        names = index(package_path)
        if cfg_path not in names:
            raise ValueError(f'{cfg_path} has no metafile entry in {package_path}')
        return names[cfg_path]

    utils._get_cfg_metainfo = lookup
    try:
        yield
    finally:
        utils._get_cfg_metainfo = original
