import pytest
import torch
from mmengine.registry import init_default_scope
from photos import photo_tensor
from test_models.tiny import tiny_mae_cfg

from mmmim.models.targets import HOGTarget
from mmmim.registry import MODELS

init_default_scope('mmmim')
NBINS = 9


def step_edge(kind: str, size: int = 32, channel: int = 1) -> torch.Tensor:
    """One straight step edge through the image centre in one colour channel."""
    rows, cols = torch.meshgrid(torch.arange(size), torch.arange(size), indexing='ij')
    region = {'vertical': cols >= size // 2,              # intensity changes along x
              'horizontal': rows >= size // 2,            # along y
              'diagonal': rows + cols >= size,            # along (1, 1)
              'antidiagonal': cols - rows >= 0}[kind]     # along (1, -1)
    img = torch.zeros(1, 3, size, size)
    img[0, channel] = region.float() * 2. - 1.
    return img


@pytest.mark.parametrize('kind,expected_bin', [
    # bin = floor(atan2(gx, gy) / pi * nbins) mod nbins, angle from the vertical axis
    ('horizontal', 0), ('diagonal', 2), ('vertical', 4), ('antidiagonal', 6)])
def test_hog__single_oriented_edge_lands_in_its_bin(kind, expected_bin):
    target = HOGTarget(nbins=NBINS, cell_sizes=(8,))
    feats = target(step_edge(kind, channel=1))[0].view(4, 4, 3, NBINS)
    assert not feats[:, :, [0, 2]].any()                            # other channels flat
    interior = feats[1:3, 1:3, 1].reshape(-1, NBINS)                # cells off the border
    one_hot = torch.zeros(NBINS)
    one_hot[expected_bin] = 1.
    on_edge = interior.any(-1)
    assert on_edge.any()
    assert torch.allclose(interior[on_edge], one_hot.expand(int(on_edge.sum()), -1))


def test_hog__constant_image_gives_zeros():
    out = HOGTarget(cell_sizes=(4, 8))
    maps = out.multi_scale(torch.full((2, 3, 32, 32), 0.7))
    assert all(torch.equal(m, torch.zeros_like(m)) for m in maps.values())


def test_hog__magnitudes_scale_linearly_before_l2_normalization():
    images = photo_tensor(64)
    target = HOGTarget(cell_sizes=(8,))
    # powers of two scale every fp32 step exactly, so no angle moves across a bin edge
    for scale in (0.25, 4.):
        scaled = target.histograms(scale * images)['cell8']
        assert torch.allclose(scaled, scale * target.histograms(images)['cell8'], rtol=1e-6)
        assert torch.allclose(target(scale * images), target(images), atol=1e-6)


def test_hog__cells_are_unit_l2_per_colour_channel():
    feats = HOGTarget(cell_sizes=(16,))(photo_tensor(64))
    norms = feats.view(*feats.shape[:2], 3, NBINS).norm(dim=-1)
    assert torch.allclose(norms, torch.ones_like(norms), atol=1e-5)


def test_hog__cell_sizes_4_8_16_32_at_224_give_56_28_14_7_grids():
    target = HOGTarget(nbins=NBINS, cell_sizes=(4, 8, 16, 32))
    maps = target.multi_scale(photo_tensor(224, names=('astronaut',)))
    for name, side in zip(target.names, (56, 28, 14, 7)):
        assert target.grid((224, 224), name) == (side, side)
        assert maps[name].shape == (1, side * side, 3 * NBINS)
    assert list(maps) == ['cell4', 'cell8', 'cell16', 'cell32']
    assert target.dims('cell32') == target.out_dims == 3 * NBINS


def test_hog__multi_scale_from_one_gradient_pass_equals_single_scale_targets(monkeypatch):
    images = photo_tensor(64)
    target = HOGTarget(cell_sizes=(4, 8, 16, 32))
    calls = []
    gradients = target.gradients
    monkeypatch.setattr(target, 'gradients', lambda x: calls.append(1) or gradients(x))
    maps = target.multi_scale(images)
    assert len(calls) == 1
    for k in (4, 8, 16, 32):
        assert torch.allclose(maps[f'cell{k}'], HOGTarget(cell_sizes=k)(images), atol=1e-5)


def test_hog__layout_row_major_over_cells_channel_major_features():
    images = photo_tensor(64)
    target = HOGTarget(cell_sizes=(16,))
    flat = target(images)                                          # [B, 16, 27]
    hist = target.histograms(images)['cell16']                     # [B, 27, 4, 4]
    # cell (r=1, c=2) is row 1 * 4 + 2; feature c * nbins + b
    cell = torch.nn.functional.normalize(hist[:, :, 1, 2].view(-1, 3, NBINS), dim=-1)
    assert torch.allclose(flat[:, 6], cell.flatten(1), atol=1e-6)


def test_hog__frozen_bias_is_seeded_and_not_a_parameter_nor_in_state_dict():
    a = HOGTarget(cell_sizes=(8,), sobel_bias_std=1.0, bias_seed=3)
    b = HOGTarget(cell_sizes=(8,), sobel_bias_std=1.0, bias_seed=3)
    assert torch.equal(a.sobel_bias, b.sobel_bias) and a.sobel_bias.shape == (2, 3, 1, 1)
    assert not list(a.parameters()) and not a.state_dict()
    flat = a.multi_scale(torch.full((1, 3, 16, 16), 0.5))['cell8']
    assert flat.abs().sum() > 0                                    # bias gives gradients


def test_hog__fp32_under_bf16_autocast():
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = HOGTarget(cell_sizes=(16,))(photo_tensor(64).bfloat16())
    assert out.dtype == torch.float32


def test_hog__multi_scale_target_needs_a_scale_name():
    target = HOGTarget(cell_sizes=(8, 16))
    with pytest.raises(ValueError, match='multi_scale'):
        target(photo_tensor(32))
    with pytest.raises(ValueError, match='divisible'):
        target.grid((60, 64), 'cell16')


def build_hog_mae(cell_size: int = 16):
    torch.manual_seed(0)
    model = MODELS.build(tiny_mae_cfg(
        target=dict(type='HOGTarget', nbins=NBINS, cell_sizes=(cell_size,)),
        decoder=dict(type='MAEDecoder', dims=32, depth=1, num_heads=2,
                     predictor_dims=3 * NBINS)))
    model.init_weights()
    return model


def test_hog__single_scale_drops_into_masked_image_model(photo_batch):
    model = build_hog_mae(cell_size=16)                 # one cell per 16-px mask unit
    loss = model(photo_batch, mode='loss')['loss']
    assert torch.isfinite(loss)
    loss.backward()
    assert model.decoder.predictor.weight.grad.abs().sum() > 0


def test_hog__finer_cells_get_the_mask_nearest_upsampled(photo_batch):
    model = build_hog_mae(cell_size=8)                  # 8x8 cells under a 4x4 mask
    masks = model.masker(photo_batch)
    target = model.target(photo_batch)                  # [B, 64, 27]
    pred = torch.randn_like(target, requires_grad=True)
    model.reconstruction_loss(pred, target, masks, photo_batch).backward()
    masked_cells = masks.mask.view(-1, 4, 1, 4, 1).expand(-1, 4, 2, 4, 2).reshape(-1, 64)
    assert torch.equal(pred.grad.abs().sum(-1) > 0, masked_cells)
