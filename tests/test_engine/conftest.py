"""Fixtures of the engine tests: a folder of small real photographs."""
from pathlib import Path

import numpy as np
import pytest

PHOTOS = ('astronaut', 'camera', 'chelsea', 'coffee', 'coins', 'moon', 'page', 'rocket',
          'text', 'clock', 'brick', 'grass')


@pytest.fixture(scope='session')
def small_photos_dir(tmp_path_factory) -> Path:
    """12 of scikit-image's photographs at 48x48 as PNG files (unlabeled, flat).

    Smaller than the shared ``demo_images_dir`` photographs so that the several short
    training runs of these tests spend their time training, not decoding."""
    from PIL import Image
    from skimage import data
    out = tmp_path_factory.mktemp('small_photos')
    for name in PHOTOS:
        image = Image.fromarray(np.asarray(getattr(data, name)())).convert('RGB')
        image.resize((48, 48), Image.BICUBIC).save(out / f'{name}.png')
    return out
