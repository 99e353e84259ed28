"""The batches the benchmark trains on, made before any timing.

Two sources, both real photographs bundled with scikit-image and both collated by the
config's own ``collate_fn``:

- photos (default): the photographs cut to the input size and packed as the train
  pipeline's ``PackInputs`` would leave them (``inputs`` and an empty ``DataSample``);
  one batch, reused every step. Same input for every config, whatever its pipeline.
- pipeline (``--pipeline``): the config's own ``train_dataloader.dataset.pipeline``
  run on the photographs written to a temporary folder, so whatever the pipeline
  stores in each sample (SimMIM's or BEiT's mask, ...) reaches the model as in
  training. A few distinct batches (:data:`MAX_PIPELINE_BATCHES`) are made and cycled.
"""
import copy
import random
import tempfile
import time
from typing import List, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config

from mmmim.datasets.demo import DEMO_PHOTOS, select_photos

from .config import HW, collate_function, train_pipeline

__all__ = ['PHOTOS', 'MAX_PIPELINE_BATCHES', 'IMAGENET_MEAN', 'IMAGENET_STD', 'photo',
           'photo_batch', 'normalized_photo_batch', 'pack_batch', 'build_train_pipeline',
           'pipeline_batches', 'timed_pipeline_batches', 'batch_image_size']

# The demo photographs (scikit-image's, readable offline); grey ones become RGB.
PHOTOS = tuple(p.name for p in DEMO_PHOTOS)
# Distinct pipeline batches at most (cycled over warm-up + timed steps): the batches
# are held in memory, so their number is bounded to keep the peak RSS comparable.
MAX_PIPELINE_BATCHES = 4
# ImageNet statistics of RGB in [0, 1]: torchvision's ``Normalize`` in the official
# training transforms; our configs' data preprocessors use the same x 255.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# ---------------------------------------------------------------------------- photos

def photo(name: str, hw: HW) -> torch.Tensor:
    """A scikit-image photograph as uint8 ``[3, h, w]`` in BGR (the order mmcv's image
    loading gives the pipeline): scaled to cover ``hw``, centre crop."""
    from PIL import Image
    (demo_photo,) = select_photos([name])
    image = Image.fromarray(demo_photo.load()).convert('RGB')
    h, w = hw
    scale = max(h / image.height, w / image.width)
    image = image.resize((max(w, round(image.width * scale)),
                          max(h, round(image.height * scale))), Image.BICUBIC)
    left, top = (image.width - w) // 2, (image.height - h) // 2
    array = np.asarray(image.crop((left, top, left + w, top + h)))[..., ::-1]  # RGB -> BGR
    return torch.from_numpy(array.copy()).permute(2, 0, 1).contiguous()


def photo_batch(batch_size: int, hw: HW) -> List[torch.Tensor]:
    """``batch_size`` uint8 ``[3, h, w]`` photographs, cycling through :data:`PHOTOS`."""
    names = [PHOTOS[i % len(PHOTOS)] for i in range(batch_size)]
    photos = {name: photo(name, hw) for name in set(names)}
    return [photos[name] for name in names]


def normalized_photo_batch(batch_size: int, hw: HW, mean: Sequence[float] = IMAGENET_MEAN,
                           std: Sequence[float] = IMAGENET_STD) -> torch.Tensor:
    """The :func:`photo_batch` photographs as the official codes' training transforms
    hand them to the model (``ToTensor`` then ``Normalize``): float ``[B, 3, h, w]``,
    RGB in [0, 1], standardized by ``mean`` / ``std``. Equal (up to rounding) to what
    our configs' data preprocessors make of the same uint8 BGR photographs."""
    images = torch.stack(photo_batch(batch_size, hw)).flip(1).float() / 255  # BGR -> RGB
    mean_t = torch.tensor(mean).view(1, 3, 1, 1)
    std_t = torch.tensor(std).view(1, 3, 1, 1)
    return (images - mean_t) / std_t


def pack_batch(cfg: Config, images: Sequence[torch.Tensor]) -> dict:
    """Samples as the train pipeline's ``PackInputs`` leaves them (``inputs`` and an
    empty ``DataSample``), collated by the config's collate function."""
    from mmpretrain.structures import DataSample
    samples = [dict(inputs=image, data_samples=DataSample(metainfo=dict(
        img_shape=tuple(image.shape[-2:]), ori_shape=tuple(image.shape[-2:]))))
        for image in images]
    return collate_function(cfg)(samples)


# -------------------------------------------------------------------------- pipeline

def build_train_pipeline(cfg: Config):
    """The config's train pipeline as mmengine's ``Compose``. Build it inside
    :func:`mmmim.config_loading.config_scope` (the transforms' registry is the scope's)."""
    from mmengine.dataset import Compose
    transforms = train_pipeline(cfg)
    if not transforms:
        raise ValueError('the config has no train_dataloader.dataset.pipeline')
    return Compose(copy.deepcopy(transforms))


def pipeline_batches(cfg: Config, batch_size: int, num_batches: int,
                     seed: int = 0) -> List[dict]:
    """The batches of :func:`timed_pipeline_batches` (without their times)."""
    return timed_pipeline_batches(cfg, batch_size, num_batches, seed)[0]


def timed_pipeline_batches(cfg: Config, batch_size: int, num_batches: int,
                           seed: int = 0) -> Tuple[List[dict], List[float]]:
    """``num_batches`` batches of the config's train pipeline on the demo photographs
    (:func:`mmmim.datasets.demo.write_demo_images`, in a temporary folder removed
    before returning), made by mmengine's own dataloader builder: an
    :class:`~mmmim.datasets.ImageFolder` of the photographs (repeated to fill every
    batch) with the config's pipeline, in order (no shuffling), collated by the
    config's ``collate_fn``; and the seconds each batch took to fetch (read, decode,
    transforms and collate, in this process: ``num_workers=0``). Build them inside
    :func:`mmmim.config_loading.config_scope`.

    Python's and numpy's random generators are seeded with ``seed`` right before the
    first batch, so crops and masks repeat from run to run.
    """
    from mmengine.runner import Runner

    from mmmim.datasets.demo import write_demo_images
    transforms = build_train_pipeline(cfg).transforms  # raises without a pipeline
    with tempfile.TemporaryDirectory(prefix='mmmim_benchmark_') as folder:
        num_photos = len(write_demo_images(folder))
        repeats = -(-batch_size * num_batches // num_photos)  # ceil
        loader = Runner.build_dataloader(dict(
            batch_size=batch_size, num_workers=0, persistent_workers=False,
            sampler=dict(type='DefaultSampler', shuffle=False, seed=seed),
            collate_fn=collate_function(cfg),
            dataset=dict(type='RepeatDataset', times=repeats, dataset=dict(
                type='mmmim.ImageFolder', data_root=folder, pipeline=transforms))),
            seed=seed)
        random.seed(seed)
        np.random.seed(seed)
        batches, seconds = [], []
        batch_iter = iter(loader)
        while len(batches) < num_batches:
            start = time.perf_counter()
            batch = next(batch_iter, None)
            if batch is None:
                break
            seconds.append(time.perf_counter() - start)
            batches.append(batch)
    return batches, seconds


def batch_image_size(batch: dict) -> HW:
    """``(h, w)`` of the first image of a collated batch (stacked or a list)."""
    inputs = batch['inputs']
    while isinstance(inputs, (list, tuple)):  # pseudo_collate; multi-view pipelines
        inputs = inputs[0]
    h, w = inputs.shape[-2:]
    return int(h), int(w)
