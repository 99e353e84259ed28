import pytest
import torch
from mmengine.registry import init_default_scope
from photos import photo_tensor
from test_models.tiny import tiny_mae_cfg
from torch import nn

from mmmim.models.targets import PixelTarget
from mmmim.models.utils import patchify, resample_mask
from mmmim.registry import MODELS

init_default_scope('mmmim')


@pytest.mark.parametrize('patch_size', [8, 16, 32])
def test_pixel_target__per_patch_zero_mean_unit_variance_at_any_patch_size(patch_size):
    images = photo_tensor(64)
    target = PixelTarget(patch_size=patch_size)(images)
    assert target.shape == (4, (64 // patch_size)**2, patch_size**2 * 3)
    assert torch.allclose(target.mean(-1), torch.zeros(1), atol=1e-4)
    assert torch.allclose(target.var(-1), torch.ones(1), atol=1e-3)


def test_pixel_target__eps_1e6_keeps_flat_patches_finite():
    target = PixelTarget(patch_size=16)(torch.full((1, 3, 32, 32), 0.3))
    assert torch.equal(target, torch.zeros_like(target))


def test_pixel_target__plain_pixels_without_normalization():
    images = photo_tensor(64)
    assert torch.equal(PixelTarget(patch_size=16, normalize=False)(images),
                       patchify(images, 16))


def test_pixel_target__grid_and_mask_resampling_to_finer_and_coarser_units():
    target = PixelTarget(patch_size=8)
    assert target.grid((64, 96)) == (8, 12)
    mask = torch.tensor([[True, False, False, True]])                 # 2x2 grid of 32 px
    fine = resample_mask(mask, (2, 2), PixelTarget(patch_size=16).grid((64, 64)))
    assert fine.view(4, 4)[:2, :2].all() and not fine.view(4, 4)[:2, 2:].any()
    coarse = resample_mask(mask, (2, 2), PixelTarget(patch_size=64).grid((64, 64)))
    assert coarse.tolist() == [[0.5]]


def test_pixel_target__fp32_under_bf16_autocast():
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = PixelTarget(patch_size=16)(photo_tensor(64).bfloat16())
    assert out.dtype == torch.float32


class Recorder(nn.Module):
    def __init__(self):
        super().__init__()
        self.bound = None

    def bind_normalization(self, mean, std):
        self.bound = (mean, std)

    def forward(self, x):
        return 2 * x


def test_pixel_target__filters_run_first_and_receive_the_preprocessor_stats():
    images = photo_tensor(64)
    target = PixelTarget(patch_size=16, normalize=False, filters=[Recorder()])
    assert torch.equal(target(images), patchify(2 * images, 16))
    model = MODELS.build(tiny_mae_cfg(
        target=target, data_preprocessor=dict(mean=[1., 2., 3.], std=[4., 5., 6.])))
    mean, std = model.target.filters[0].bound
    assert mean.flatten().tolist() == [1., 2., 3.] and std.flatten().tolist() == [4., 5., 6.]
