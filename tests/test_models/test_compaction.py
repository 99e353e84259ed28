"""Compaction's inverse: tokens of any encoder layout back to the visible units' rows."""
import pytest
import torch

from mmmim.models import EncoderOutput, MaskSet
from mmmim.models.encoders.compaction import (
    compact_index,
    compact_map,
    to_visible_rows,
    window_choice,
)
from mmmim.models.maskers import UniformMasker


def uniform_masks(batch=3, units=8) -> MaskSet:
    torch.manual_seed(0)
    return UniformMasker(unit_size=16, secondary_ratio=0.)(torch.zeros(batch, 3, 16 * units,
                                                                       16 * units))


def full_token_map(masks: MaskSet, per_unit: int, channels=5) -> torch.Tensor:
    side = masks.grid[0] * per_unit
    return torch.randn(masks.mask.shape[0], channels, side, side)        # [B, C, h, w]


def as_rows(token_map: torch.Tensor) -> torch.Tensor:
    return token_map.flatten(2).transpose(1, 2)                          # [B, h*w, C]


@pytest.mark.parametrize('per_unit', [1, 2])
def test_compact_index__points_each_token_of_a_visible_unit_at_its_compact_slot(per_unit):
    masks = uniform_masks()
    side = masks.grid[0] * per_unit
    positions = torch.arange(side * side, dtype=torch.float).view(1, 1, side, side)
    compact = compact_map(positions, window_choice(masks.visible, masks.grid)).flatten(1).long()
    index = compact_index((masks.grid[0] // 2, masks.grid[1] // 2), per_unit)
    slots = torch.arange(compact.shape[1])
    for b in range(compact.shape[0]):
        assert torch.equal(index[compact[b]], slots)


@pytest.mark.parametrize('per_unit', [1, 2])
def test_to_visible_rows__compact_tokens_return_to_their_place_in_their_unit(per_unit):
    """Compacting a full token map, then mapping back, gives the full map's tokens
    of the visible units, row-major over the full grid."""
    masks = uniform_masks()
    full = full_token_map(masks, per_unit)
    compact = compact_map(full, window_choice(masks.visible, masks.grid))
    latent = EncoderOutput(as_rows(compact), tuple(compact.shape[-2:]), layout='compact')
    visible, on_grid = to_visible_rows(latent, masks)
    side = masks.grid[0] * per_unit
    assert on_grid.grid == visible.hw == (side, side) and visible.layout == 'visible'
    expected = as_rows(full)[on_grid.visible].view(full.shape[0], -1, full.shape[1])
    assert torch.equal(visible.tokens, expected)


def test_to_visible_rows__full_grid_keeps_the_extra_and_the_visible_units_tokens():
    masks = MaskSet(mask=torch.rand(2, 16).argsort(1) < 12, grid=(4, 4), unit_size=32,
                    num_masked=12)
    tokens = torch.randn(2, 1 + 8 * 8, 6)                      # class token + 16-px tokens
    visible, on_grid = to_visible_rows(
        EncoderOutput(tokens, (8, 8), num_extra_tokens=1, layout='full_grid'), masks)
    assert on_grid.grid == (8, 8) and on_grid.num_masked == 48
    spatial = tokens[:, 1:][on_grid.visible].view(2, 16, 6)
    assert torch.equal(visible.tokens, torch.cat([tokens[:, :1], spatial], 1))
    assert visible.num_extra_tokens == 1


def test_to_visible_rows__visible_tokens_pass_through():
    masks = uniform_masks()
    latent = EncoderOutput(torch.randn(3, 1 + 16, 4), masks.grid, num_extra_tokens=1)
    visible, on_grid = to_visible_rows(latent, masks)
    assert visible is latent and torch.equal(on_grid.mask, masks.mask)


def test_to_visible_rows__compact_tokens_coarser_than_a_unit_raise():
    masks = uniform_masks()                                     # 4x4 windows
    latent = EncoderOutput(torch.randn(3, 4, 4), (2, 2), layout='compact')
    with pytest.raises(ValueError, match='do not tile'):
        to_visible_rows(latent, masks)
