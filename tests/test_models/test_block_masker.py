"""SimMIM's block masking."""
import pytest
import torch

from mmmim.models.maskers import BlockMasker


@pytest.mark.parametrize('size, units, masked', [(192, 36, 22), (256, 64, 38)])
def test_block_masker__exact_count_of_32px_units_per_sample(size, units, masked):
    torch.manual_seed(0)
    masks = BlockMasker(ratio=0.6, unit_size=32)(torch.zeros(8, 3, size, size))
    assert masks.unit_size == 32 and masks.mask.shape == (8, units)
    assert (masks.mask.sum(1) == masked).all()
    assert masks.secondary is None

