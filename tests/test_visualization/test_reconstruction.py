import numpy as np
import torch
from mmengine.registry import init_default_scope
from test_models.tiny import tiny_mae_cfg

from mmmim.registry import MODELS
from mmmim.visualization import reconstruct_pixels, reconstruction_grid

init_default_scope('mmmim')


def build_model():
    torch.manual_seed(0)
    model = MODELS.build(tiny_mae_cfg(data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375])))
    model.init_weights()
    return model.eval()


def test_reconstruction__visible_units_show_the_original_and_masked_units_are_blanked(
        photo_batch):
    model = build_model()
    torch.manual_seed(1)
    results = reconstruct_pixels(model, photo_batch)
    torch.manual_seed(1)
    mask = model.masker(photo_batch).mask  # same draw as inside reconstruct_pixels
    for r, m in zip(results, mask):
        unit = m.view(4, 4).repeat_interleave(16, 0).repeat_interleave(16, 1).numpy()
        original = r['original'].astype(int)
        assert np.abs(r['reconstruction'].astype(int) - original)[~unit].max() <= 1
        assert np.abs(r['masked'].astype(int) - original)[~unit].max() <= 1
        assert not np.array_equal(r['masked'][unit], original[unit])
        assert r['borrowed_statistics'] is True


def test_reconstruction_grid__stacks_three_panels_per_image(photo_batch):
    results = reconstruct_pixels(build_model(), photo_batch[:2])
    grid = reconstruction_grid(results, gap=4)
    assert grid.dtype == np.uint8
    assert grid.shape == (64 * 2 + 4, 64 * 3 + 8, 3)
