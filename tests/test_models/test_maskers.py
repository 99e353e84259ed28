import pytest
import torch

from mmmim.models.maskers import RandomMasker, random_mask


def test_random_masker__exactly_75_percent_masked_per_sample():
    masks = RandomMasker(ratio=0.75, unit_size=16)(torch.zeros(8, 3, 224, 224))
    assert masks.mask.dtype == torch.bool
    assert masks.mask.shape == (8, 196)
    assert masks.grid == (14, 14)
    assert (masks.mask.sum(1) == 147).all()


def test_random_masker__samples_differ_and_seed_repeats():
    images = torch.zeros(4, 3, 64, 64)
    torch.manual_seed(3)
    first = RandomMasker()(images).mask
    torch.manual_seed(3)
    again = RandomMasker()(images).mask
    assert torch.equal(first, again)
    assert len({tuple(row.tolist()) for row in first}) == 4


def test_random_masker__every_unit_masked_at_chance_rate():
    torch.manual_seed(0)
    mask = random_mask(4000, 16, 12, torch.device('cpu'))
    rate = mask.float().mean(0)
    assert torch.allclose(rate, torch.full_like(rate, 0.75), atol=0.04)


def test_random_masker__rejects_input_not_divisible_by_unit():
    with pytest.raises(ValueError, match='not divisible'):
        RandomMasker(unit_size=16)(torch.zeros(1, 3, 60, 64))
