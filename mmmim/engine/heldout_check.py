"""The held-out check of a pretraining run: is the model reconstructing better than
what it could get without learning?

Every ``train_cfg.val_interval`` epochs :class:`SeededValLoop` measures, per image, the
masked-unit errors of the model's reconstruction and of its baselines
(:func:`masked_unit_outputs`, through :func:`mmmim.visualization.reconstruct_pixels`)
over a held-out folder with the masks of batch ``i`` drawn from torch's generator
seeded with ``seed + i`` (the same masks at every check, so checks are comparable;
the training random states are restored afterwards), and :class:`MaskedUnitErrorMetric`
reports the means as ``heldout/mse_model`` (nothing borrowed from the masked units),
``heldout/mse_visible_mean``, ``heldout/mse_interpolation``, ``heldout/mse_mean_colour``
and ``heldout/model_over_<baseline>``, logged and sent to the visualizer's backends like
any mmengine metric. ``configs/_base_/heldout_check.py`` switches it on.
"""
import logging
from typing import Dict, List, Sequence

import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import ValLoop, autocast

from mmmim.random_states import preserved_random_states
from mmmim.registry import LOOPS, METRICS
from mmmim.visualization.reconstruction import error_scalars, mean_errors, reconstruct_pixels


@torch.no_grad()
def masked_unit_outputs(model: torch.nn.Module, data_batch: dict) -> List[dict]:
    """Per image ``{'errors': ...}``: the masked-unit errors (0-255 units) of the
    pixel-target ``model``'s reconstruction, nothing borrowed, and of its baselines
    (:func:`mmmim.visualization.reconstruction.masked_unit_errors_of`). Masks come from
    torch's global generator; a DDP-wrapped model is measured through its module."""
    model = model.module if is_model_wrapper(model) else model
    inputs = model.data_preprocessor(data_batch, False)['inputs']          # [B, 3, H, W]
    return [dict(errors=r.errors) for r in reconstruct_pixels(model, inputs)]


@LOOPS.register_module()
class SeededValLoop(ValLoop):
    """mmengine's ``ValLoop`` whose batch ``i`` draws its masks after
    ``torch.manual_seed(seed + i)``; the global random states (python, numpy, torch,
    CUDA) are those of before the loop when it ends, so a run with the check trains
    exactly as one without. A held-out folder that does not exist (``FileNotFoundError``
    while building the loader) logs a warning naming the setting and skips the check.

    Args:
        runner, dataloader, evaluator, fp16: as ``ValLoop``.
        seed: seed of the first batch's mask draw.
    """

    def __init__(self, runner, dataloader, evaluator, fp16: bool = False, seed: int = 0
                 ) -> None:
        self.seed = seed
        self.skipped = False
        try:
            super().__init__(runner, dataloader, evaluator, fp16)
        except FileNotFoundError as error:  # no held-out folder: train without the check
            self._runner, self.skipped = runner, True
            print_log(f'held-out check skipped: {error}. Point '
                      'val_dataloader.dataset.data_root at a folder of held-out images '
                      '(the demo: python tools/dataset_converters/prepare_demo_images.py '
                      'data/demo writes data/demo_heldout)', logger='current',
                      level=logging.WARNING)

    def run(self) -> dict:
        if self.skipped:
            return {}
        with preserved_random_states():
            return super().run()

    @torch.no_grad()
    def run_iter(self, idx: int, data_batch: Sequence[dict]) -> None:
        torch.manual_seed(self.seed + idx)
        self.runner.call_hook('before_val_iter', batch_idx=idx, data_batch=data_batch)
        with autocast(enabled=self.fp16):
            outputs = masked_unit_outputs(self.runner.model, data_batch)
        self.evaluator.process(data_samples=outputs, data_batch=data_batch)
        self.runner.call_hook('after_val_iter', batch_idx=idx, data_batch=data_batch,
                              outputs=outputs)


@METRICS.register_module()
class MaskedUnitErrorMetric(BaseMetric):
    """Mean masked-unit errors (0-255 pixel units) over the held-out images, beside the
    baselines: the visible pixels' mean colour and their smooth interpolation (both see
    only what the model sees) and each masked unit's true mean colour (an oracle), with
    the ratios model / baseline (:func:`mmmim.visualization.reconstruction.error_scalars`).

    Reads the ``errors`` of each output of :func:`masked_unit_outputs`.
    """

    default_prefix = 'heldout'

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        self.results.extend(sample['errors'] for sample in data_samples)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        return error_scalars(mean_errors(results))
