"""Pixel reconstructions: what each panel shows, how normalization is undone, and the
masked-unit errors."""
import numpy as np
import torch
from mmengine.registry import init_default_scope
from test_models.tiny import tiny_mae_cfg

from mmmim.models.utils import patchify
from mmmim.registry import MODELS
from mmmim.visualization import reconstruct_pixels, reconstruction_grid
from mmmim.visualization.reconstruction import (
    MASKED_GREY,
    NONE_BORROWED,
    TRUE_STATS,
    interpolate_visible,
)

init_default_scope('mmmim')
PREPROCESSOR = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375])


def build_model(**overrides):
    torch.manual_seed(0)
    model = MODELS.build(tiny_mae_cfg(data_preprocessor=PREPROCESSOR, **overrides))
    model.init_weights()
    return model.eval()


def unit_pixels(mask: torch.Tensor, grid=4, unit=16) -> np.ndarray:
    return mask.view(grid, grid).repeat_interleave(unit, 0).repeat_interleave(unit, 1).numpy()


def test_reconstruction__visible_units_show_the_original_and_masked_units_are_grey(
        photo_batch):
    model = build_model()
    torch.manual_seed(1)
    results = reconstruct_pixels(model, photo_batch)
    torch.manual_seed(1)
    mask = model.masker(photo_batch).mask  # same draw as inside reconstruct_pixels
    for r, m in zip(results, mask):
        unit = unit_pixels(m)
        original = r.original.astype(int)
        for _, pasted in r.variants.values():
            assert np.abs(pasted.astype(int) - original)[~unit].max() <= 1
        assert np.abs(r.masked.astype(int) - original)[~unit].max() <= 1
        assert (r.masked[unit] == MASKED_GREY).all()
        assert r.borrowed_statistics is True


def test_reconstruction__normalized_target_gives_both_labelled_variants_differing(
        photo_batch):
    results = reconstruct_pixels(build_model(), photo_batch[:2])
    for r in results:
        assert list(r.variants) == [TRUE_STATS, NONE_BORROWED]
        assert not np.array_equal(r.variants[TRUE_STATS][0], r.variants[NONE_BORROWED][0])
        assert r.errors['model'] is None and r.errors['model_true_stats'] > 0


def test_reconstruction__unnormalized_target_borrows_nothing_and_measures_the_model(
        photo_batch):
    model = build_model(target=dict(type='PixelTarget', patch_size=16, normalize=False))
    results = reconstruct_pixels(model, photo_batch[:2])
    for r in results:
        assert list(r.variants) == [NONE_BORROWED]
        assert r.errors['model'] > 0 and r.errors['model_true_stats'] is None


def one_draw(photo_batch):
    """(reconstruction of the first photograph with seed 3, its masked pixels
    ``[64, 64]`` bool, the photograph ``[64, 64, 3]`` in 0-255 units, offset kept)."""
    model = build_model(target=dict(type='PixelTarget', patch_size=16, normalize=False))
    torch.manual_seed(3)
    r = reconstruct_pixels(model, photo_batch[:1])[0]
    torch.manual_seed(3)
    unit = unit_pixels(model.masker(photo_batch[:1]).mask[0])
    std = torch.tensor(PREPROCESSOR['std'])
    return r, unit, (photo_batch[0].permute(1, 2, 0) * std).numpy()


def test_mean_colour_error__equals_the_masked_units_per_channel_variance(photo_batch):
    r, unit, image = one_draw(photo_batch)
    cells = image.reshape(4, 16, 4, 16, 3).transpose(0, 2, 1, 3, 4).reshape(16, 256, 3)
    masked_cells = unit.reshape(4, 16, 4, 16)[:, 0, :, 0].reshape(16)
    expected = cells[masked_cells].var(axis=1).mean()
    assert abs(r.errors['mean_colour'] - expected) <= 1e-3 * expected


def test_visible_mean_error__is_the_masked_pixels_spread_around_the_visible_mean_colour(
        photo_batch):
    r, unit, image = one_draw(photo_batch)
    colour = image[~unit].mean(0)
    expected = ((image[unit] - colour) ** 2).mean()
    assert abs(r.errors['visible_mean'] - expected) <= 1e-3 * expected


def test_interpolation__fills_masked_units_from_visible_pixels_only(photo_batch):
    image = photo_batch[:1]
    patches = patchify(image, 16)[0]                               # [16, 768]
    weight = torch.zeros(16)
    weight[[5, 6, 9]] = 1
    filled = interpolate_visible(patches, weight, 16, (4, 4))
    changed = patches.clone()
    changed[weight > 0] = torch.randn_like(changed[weight > 0]) * 50  # hidden content
    assert torch.allclose(interpolate_visible(changed, weight, 16, (4, 4)), filled)
    flat = torch.full_like(patches, 0.7)
    assert torch.allclose(interpolate_visible(flat, weight, 16, (4, 4)), flat, atol=1e-5)


def test_interpolation__follows_a_smooth_ramp_better_than_the_visible_mean_colour():
    ramp = torch.linspace(-2, 2, 64).view(1, 1, 1, 64).expand(1, 3, 64, 64)
    patches = patchify(ramp, 16)[0]
    weight = torch.zeros(16)
    weight[[1, 5, 9, 13]] = 1                                      # the second column
    masked = weight > 0
    filled = interpolate_visible(patches, weight, 16, (4, 4))
    interpolation_error = (filled - patches)[masked].pow(2).mean()
    mean_colour_error = (patches[~masked].mean() - patches)[masked].pow(2).mean()
    assert interpolation_error < 0.5 * mean_colour_error


def test_reconstruction_grid__stacks_three_panels_per_image(photo_batch):
    results = reconstruct_pixels(build_model(), photo_batch[:2])
    grid = reconstruction_grid(results, gap=4)
    assert grid.dtype == np.uint8
    assert grid.shape == (64 * 2 + 4, 64 * 3 + 8, 3)
