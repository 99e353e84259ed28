"""The batches :mod:`mmmim.utils.benchmark` trains on, made before any timing.

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
from typing import List, Sequence

import numpy as np
import torch
from mmengine.config import Config

from .config import HW, collate_function, train_pipeline

__all__ = ['PHOTOS', 'MAX_PIPELINE_BATCHES', 'photo', 'photo_batch', 'pack_batch',
           'build_train_pipeline', 'pipeline_batches', 'batch_image_size']

# Photographs bundled in the scikit-image wheel (readable offline); grey ones become RGB.
PHOTOS = ('astronaut', 'chelsea', 'coffee', 'rocket', 'hubble_deep_field',
          'immunohistochemistry', 'retina', 'cell', 'camera', 'coins', 'moon', 'clock',
          'grass', 'gravel', 'brick', 'page', 'text')
# Distinct pipeline batches at most (cycled over warm-up + timed steps): the batches
# are held in memory, so their number is bounded to keep the peak RSS comparable.
MAX_PIPELINE_BATCHES = 4


# ---------------------------------------------------------------------------- photos

def photo(name: str, hw: HW) -> torch.Tensor:
    """A scikit-image photograph as uint8 ``[3, h, w]`` in BGR (the order mmcv's image
    loading gives the pipeline): scaled to cover ``hw``, centre crop."""
    from PIL import Image
    from skimage import data
    image = Image.fromarray(getattr(data, name)()).convert('RGB')
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
    :func:`mmmim.utils.config.config_scope` (the transforms' registry is the scope's)."""
    from mmengine.dataset import Compose
    transforms = train_pipeline(cfg)
    if not transforms:
        raise ValueError('the config has no train_dataloader.dataset.pipeline')
    return Compose(copy.deepcopy(transforms))


def pipeline_batches(cfg: Config, batch_size: int, num_batches: int,
                     seed: int = 0) -> List[dict]:
    """``num_batches`` batches of the config's train pipeline on the demo photographs
    (:func:`mmmim.datasets.demo.write_demo_images`, in a temporary folder removed
    before returning), each collated by the config's ``collate_fn``.

    Sample ``k`` (counting across batches) is photograph ``k`` modulo their number,
    given to the pipeline as a dataset would (``img_path``, ``sample_idx``); Python's
    and numpy's random generators are seeded with ``seed`` first, so crops and masks
    repeat from run to run.
    """
    from mmmim.datasets.demo import write_demo_images
    pipeline = build_train_pipeline(cfg)
    collate = collate_function(cfg)
    random.seed(seed)
    np.random.seed(seed)
    batches = []
    with tempfile.TemporaryDirectory(prefix='mmmim_benchmark_') as folder:
        paths = [str(path) for path in write_demo_images(folder)]
        for b in range(num_batches):
            samples = []
            for k in range(b * batch_size, (b + 1) * batch_size):
                path = paths[k % len(paths)]
                sample = pipeline(dict(img_path=path, sample_idx=k))
                if sample is None:
                    raise RuntimeError(f'the train pipeline dropped {path}')
                samples.append(sample)
            batches.append(collate(samples))
    return batches


def batch_image_size(batch: dict) -> HW:
    """``(h, w)`` of the first image of a collated batch (stacked or a list)."""
    inputs = batch['inputs']
    while isinstance(inputs, (list, tuple)):  # pseudo_collate; multi-view pipelines
        inputs = inputs[0]
    h, w = inputs.shape[-2:]
    return int(h), int(w)
