"""Data for pretraining: the ``ImageFolder`` dataset, the ``LoadImageSafely`` and
``ConservativeCrop`` transforms and the bundled demo photographs. Importing this package
registers them."""
from .conservative_crop import ConservativeCrop
from .decode import ImageDecodeError, decode_rgb
from .demo import DEMO_PHOTOS, write_demo_classes, write_demo_images
from .fast_crop import LoadAndConservativeCrop, LoadAndRandomResizedCrop
from .gpu_decode import DrawFlip, DrawResizedCrop, GPUDecodePreprocessor, LoadImageBytes, PackBytes
from .image_folder import IMG_EXTENSIONS, ImageFolder
from .loading import ImageLoadError, LoadImageSafely, SkippedImages
from .tar_shards import TarMemberBackend, TarShardDataset

__all__ = [
    'ConservativeCrop', 'DEMO_PHOTOS', 'IMG_EXTENSIONS', 'ImageDecodeError', 'ImageFolder',
    'ImageLoadError', 'LoadAndConservativeCrop', 'LoadAndRandomResizedCrop',
    'LoadImageSafely', 'SkippedImages',
    'decode_rgb', 'write_demo_classes', 'write_demo_images',
    'DrawFlip', 'DrawResizedCrop', 'GPUDecodePreprocessor', 'LoadImageBytes', 'PackBytes',
    'TarMemberBackend', 'TarShardDataset',
]
