"""Data for pretraining: the ``ImageFolder`` dataset, the ``LoadImageSafely`` and
``ConservativeCrop`` transforms and the bundled demo photographs. Importing this package
registers them (and the samplers of :mod:`mmmim.engine.samplers`, whose registry
location is this package)."""
import warnings
from pathlib import Path

from .conservative_crop import ConservativeCrop
from .decode import ImageDecodeError, decode_rgb
from .demo import DEMO_PHOTOS, write_demo_classes, write_demo_images
from .image_folder import IMG_EXTENSIONS, ImageFolder
from .loading import SKIPPED_IMAGES, ImageLoadError, LoadImageSafely
from .tiny_coco import STUFF_THING_CLASSES, TINY_COCO_METAINFO, write_tiny_coco
from .tiny_downstream import TINY_DATASETS, write_tiny_downstream

try:  # DATA_SAMPLERS names this package as its location: register ResumableSampler
    from mmmim.engine import samplers  # noqa: F401
except ImportError as _err:  # silent only if the module does not exist (yet)
    if (Path(__file__).parents[1] / 'engine' / 'samplers.py').exists():
        warnings.warn(f'mmmim.engine.samplers exists but failed to import ({_err!r}); '
                      'ResumableSampler is not registered')

__all__ = [
    'ConservativeCrop', 'DEMO_PHOTOS', 'IMG_EXTENSIONS', 'ImageDecodeError', 'ImageFolder',
    'ImageLoadError', 'LoadImageSafely', 'STUFF_THING_CLASSES', 'SKIPPED_IMAGES',
    'TINY_COCO_METAINFO', 'TINY_DATASETS', 'decode_rgb', 'write_demo_classes',
    'write_demo_images', 'write_tiny_coco', 'write_tiny_downstream',
]
