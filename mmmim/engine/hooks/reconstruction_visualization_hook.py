"""Reconstruction figures of a fixed image set while a model pretrains."""
import logging
import os
import os.path as osp
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple, Union

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from PIL import Image

from mmmim.registry import HOOKS
from mmmim.visualization import image_size_of
from mmmim.visualization.render import draw_figure

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff')
#: images taken from the training data when none of the configured ones exist
FALLBACK_IMAGES = 4


def image_files(images: Union[str, Sequence[str]]) -> List[Path]:
    """Files of ``images``: a list of files and / or folders (their images, sorted)."""
    paths = [images] if isinstance(images, (str, Path)) else list(images)
    files: List[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f'ReconstructionVisualizationHook: image {path} not found')
    if not files:
        raise ValueError(f'ReconstructionVisualizationHook: no images in {paths}')
    return files


def split_existing(images: Union[str, Sequence[str]]) -> Tuple[List[str], List[str]]:
    """``images`` (files and / or folders) as (those that exist, those that do not)."""
    paths = [images] if isinstance(images, (str, Path)) else list(images)
    return ([str(p) for p in paths if osp.exists(p)],
            [str(p) for p in paths if not osp.exists(p)])


def training_image_folder(cfg) -> Optional[str]:
    """The folder the config's training images are read from: the train dataset's
    ``data_root`` joined with its ``data_prefix`` (a path, or a dict's ``img_path``)."""
    dataset = (cfg.get('train_dataloader') or {}).get('dataset') or {}
    while 'dataset' in dataset:  # wrappers (RepeatDataset, ...)
        dataset = dataset['dataset']
    prefix = dataset.get('data_prefix') or ''
    if isinstance(prefix, dict):
        prefix = prefix.get('img_path') or prefix.get('img') or ''
    root = dataset.get('data_root') or ''
    return osp.join(root, prefix) if (root or prefix) else None


def first_images(folder: str, count: int) -> List[Path]:
    """The first ``count`` images under ``folder`` in sorted, depth-first order; reads
    only as much of a large tree (an ImageNet train folder) as it needs."""
    def walk(path: str) -> Iterator[Path]:
        try:
            entries = sorted(os.scandir(path), key=lambda entry: entry.name)
        except OSError:
            return
        for entry in entries:
            if entry.is_dir():
                yield from walk(entry.path)
            elif Path(entry.name).suffix.lower() in IMAGE_SUFFIXES:
                yield Path(entry.path)
    found: List[Path] = []
    for path in walk(folder):
        found.append(path)
        if len(found) == count:
            break
    return found


@HOOKS.register_module()
class ReconstructionVisualizationHook(Hook):
    """Every ``interval`` iterations (and before the first and after the last), draw
    the reconstruction figure (:func:`mmmim.visualization.reconstruction_figure`)
    of a fixed image set with a fixed mask seed, on rank 0 only.

    The figure goes to ``<work_dir>/<out_dir>/iter_<n>.png`` and through the
    runner's visualizer backends as image ``reconstruction`` at step ``n``
    (LocalVisBackend: ``vis_data/vis_image/``; TensorBoard when the config lists
    ``TensorboardVisBackend``). The training random state is untouched: the global
    generators are saved before and restored after (masks are drawn from the
    seeded global torch generator inside), so runs with and without this hook, and
    resumed runs, draw the same masks and augmentations.

    Args:
        images: image files and / or folders (all their images). Missing ones are
            skipped with a warning; with none found, the first images of the
            training data are drawn (:meth:`find_files`).
        interval: iterations between figures.
        seed: seed of the mask draw (the same masks in every figure).
        image_size: square input side (default: the model encoder's ``img_size``).
        out_dir: folder under the work dir.
        zoom: panel magnification (default 2 below 160 px, else 1).
        before_train: also draw the untrained model's figure (iteration 0).
    """

    priority = 'LOW'

    def __init__(self, images: Union[str, Sequence[str]], interval: int = 100, seed: int = 0,
                 image_size: Optional[int] = None, out_dir: str = 'reconstructions',
                 zoom: Optional[int] = None, before_train: bool = True) -> None:
        if interval < 1:
            raise ValueError(f'interval must be >= 1, got {interval}')
        self.images = images
        self.interval = interval
        self.seed = seed
        self.image_size = image_size
        self.out_dir = out_dir
        self.zoom = zoom
        self.draw_before_train = before_train
        self.files: List[Path] = []
        self.last_path: Optional[str] = None

    def before_train(self, runner) -> None:
        self.files = self.find_files(runner.cfg)  # on every rank
        if self.draw_before_train and runner.iter == 0:
            self.draw(runner, 0)

    def find_files(self, cfg) -> List[Path]:
        """The configured images; those that are missing (a config pointed at another
        data root, whose held-out folder is not there) are left out with a warning,
        and when none is left, the first :data:`FALLBACK_IMAGES` of the training data
        are drawn instead; without those either, no figure (a warning, no error)."""
        existing, missing = split_existing(self.images)
        if not missing:
            return image_files(self.images)
        folder = training_image_folder(cfg)
        files = (image_files(existing) if existing else
                 first_images(folder, FALLBACK_IMAGES) if folder else [])
        instead = ('the others' if existing else
                   f'the first {len(files)} of the training data ({folder})' if files else
                   'nothing: no reconstruction figures')
        print_log(f'ReconstructionVisualizationHook: {", ".join(missing)} not found; '
                  f'drawing {instead}. Set the hook\'s images (custom_hooks) to choose '
                  'them', logger='current', level=logging.WARNING)
        return files

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if (self.every_n_train_iters(runner, self.interval)
                or self.is_last_train_iter(runner)):
            self.draw(runner, runner.iter + 1)

    def draw(self, runner, step: int) -> Optional[str]:
        """Render the figure at iteration ``step``; returns its path (rank 0; None
        without images)."""
        if not is_main_process() or not self.files:
            return None
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        image = self.render(model, runner.cfg, step)
        path = osp.join(runner.work_dir, self.out_dir, f'iter_{step}.png')
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(path)
        runner.visualizer.add_image('reconstruction', image, step=step)
        self.last_path = path
        return path

    def render(self, model, cfg, step: int):
        """The figure of ``model`` as uint8 ``[H, W, 3]``, random state untouched."""
        size = self.image_size or image_size_of(cfg)
        header = [f'iteration {step}; mask seed {self.seed}; {size} px']
        return draw_figure(model, self.files, size, self.seed, header, self.zoom).image
