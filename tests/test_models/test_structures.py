"""MaskSet's row indices: derived once per draw, mapped (not re-sorted) onto finer grids."""
import pytest
import torch

from mmmim.models import MaskSet


def true_places(where: torch.Tensor) -> torch.Tensor:
    """bool ``[B, L]`` with the same count per row -> their indices ``[B, K]``."""
    return where.nonzero()[:, 1].view(where.shape[0], -1)


def random_masks(grid=(4, 6), num_masked=17, batch=5, known=True) -> MaskSet:
    torch.manual_seed(0)
    mask = torch.rand(batch, grid[0] * grid[1]).argsort(1) < num_masked
    return MaskSet(mask=mask, grid=grid, unit_size=16,
                   num_masked=num_masked if known else None)


@pytest.mark.parametrize('known', [True, False])
def test_rows__the_visible_and_masked_units_indices_ascending(known):
    masks = random_masks(known=known)
    assert torch.equal(masks.visible_rows, true_places(masks.visible))
    assert torch.equal(masks.masked_rows, true_places(masks.mask))


def test_rows__computed_once_per_maskset():
    masks = random_masks()
    assert masks.visible_rows is masks.visible_rows and masks.masked_rows is masks.masked_rows


@pytest.mark.parametrize('grid,hw,num_masked', [((4, 6), (8, 12), 17), ((4, 6), (4, 12), 0),
                                                ((2, 2), (8, 8), 3), ((7, 7), (14, 14), 36)])
def test_on_grid__mapped_rows_equal_the_finer_masks_own(grid, hw, num_masked):
    finer = random_masks(grid, num_masked).on_grid(hw)
    assert finer.grid == hw
    assert torch.equal(finer.visible_rows, true_places(finer.visible))
    assert torch.equal(finer.masked_rows, true_places(finer.mask))


def test_on_grid__the_same_grid_gives_the_same_maskset():
    masks = random_masks()
    assert masks.on_grid((4, 6)) is masks


def test_on_grid__a_coarser_grid_raises():
    with pytest.raises(ValueError, match='coarser'):
        random_masks().on_grid((2, 3))
