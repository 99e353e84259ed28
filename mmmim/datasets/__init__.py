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
from .tiny_ade import TINY_ADE_CLASSES, TINY_ADE_METAINFO, write_tiny_ade
from .tiny_coco import STUFF_THING_CLASSES, TINY_COCO_METAINFO, write_tiny_coco
from .tiny_downstream import TINY_DATASETS, write_tiny_downstream

__all__ = [
    'ConservativeCrop', 'DEMO_PHOTOS', 'IMG_EXTENSIONS', 'ImageDecodeError', 'ImageFolder',
    'ImageLoadError', 'LoadAndConservativeCrop', 'LoadAndRandomResizedCrop',
    'LoadImageSafely', 'STUFF_THING_CLASSES', 'SkippedImages',
    'TINY_ADE_CLASSES', 'TINY_ADE_METAINFO', 'TINY_COCO_METAINFO', 'TINY_DATASETS',
    'decode_rgb', 'write_demo_classes', 'write_demo_images', 'write_tiny_ade',
    'write_tiny_coco', 'write_tiny_downstream',
    'DrawFlip', 'DrawResizedCrop', 'GPUDecodePreprocessor', 'LoadImageBytes', 'PackBytes',
    'TarMemberBackend', 'TarShardDataset',
]
