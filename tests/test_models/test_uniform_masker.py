"""Uniform sampling + secondary masking (UM-MAE)."""
import functools

import pytest
import torch
from mmengine.dataset.utils import worker_init_fn
from mmengine.runner import set_random_seed

from mmmim.models.maskers import UniformMasker, uniform_mask


def windows_of(mask: torch.Tensor, grid) -> torch.Tensor:
    """bool [B, L] -> [B, gh/2 * gw/2, 4]: each 2x2 window's units."""
    gh, gw = grid
    w = mask.view(-1, gh // 2, 2, gw // 2, 2).permute(0, 1, 3, 2, 4)
    return w.reshape(mask.shape[0], -1, 4)


@pytest.mark.parametrize('size', [224, 256])
@pytest.mark.parametrize('draw', ['independent', 'balanced'])
def test_uniform_masker__one_visible_unit_per_window_and_25_percent_visible(size, draw):
    torch.manual_seed(0)
    masks = UniformMasker(draw=draw)(torch.zeros(16, 3, size, size))
    side = size // 16
    assert masks.grid == (side, side) and masks.mask.dtype == torch.bool
    assert (windows_of(masks.visible, masks.grid).sum(-1) == 1).all()
    assert (masks.visible.sum(1) == side * side // 4).all()


@pytest.mark.parametrize('size, expected', [(256, 16), (224, 13)])
def test_uniform_masker__secondary_count_is_the_official_13_of_49_and_16_of_64(size, expected):
    torch.manual_seed(0)
    masks = UniformMasker(secondary_ratio=0.25)(torch.zeros(16, 3, size, size))
    # the official code keeps int(visible * 0.75): 36 of 49, 48 of 64
    assert (masks.secondary.sum(1) == expected).all()
    assert not (masks.secondary & masks.mask).any()
    assert len({tuple(row.tolist()) for row in masks.secondary}) == 16


def test_uniform_masker__no_secondary_mask_at_ratio_zero():
    assert UniformMasker(secondary_ratio=0.)(torch.zeros(2, 3, 64, 64)).secondary is None


def test_uniform_masker__samples_differ_and_seed_repeats():
    images = torch.zeros(8, 3, 256, 256)
    torch.manual_seed(3)
    first = UniformMasker()(images)
    torch.manual_seed(3)
    again = UniformMasker()(images)
    assert torch.equal(first.mask, again.mask) and torch.equal(first.secondary, again.secondary)
    assert len({tuple(row.tolist()) for row in first.mask}) == 8


def test_uniform_masker__ranks_draw_different_masks():
    """The runtime seeds each rank with seed + rank (diff_rank_seed=True)."""
    images = torch.zeros(4, 3, 256, 256)
    per_rank = []
    for rank in range(2):
        set_random_seed(7 + rank)  # what set_random_seed(7, diff_rank_seed=True) does on `rank`
        per_rank.append(UniformMasker()(images).mask)
    assert not torch.equal(per_rank[0], per_rank[1])


class MaskPerItem(torch.utils.data.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, index):
        return UniformMasker()(torch.zeros(1, 3, 64, 64)).mask[0]


def test_uniform_masker__dataloader_workers_draw_different_masks():
    def first_masks():
        init = functools.partial(worker_init_fn, num_workers=2, rank=0, seed=11)
        loader = torch.utils.data.DataLoader(MaskPerItem(), batch_size=1, num_workers=2,
                                             worker_init_fn=init)
        return [m[0] for m in loader]  # items 0, 2 from worker 0; 1, 3 from worker 1

    masks = first_masks()
    assert not torch.equal(masks[0], masks[1])  # first draw of each worker
    assert all(torch.equal(a, b) for a, b in zip(masks, first_masks()))  # seeded


def test_uniform_masker__balanced_draw_keeps_each_corner_equally_often():
    torch.manual_seed(0)
    mask = uniform_mask(32, (16, 16), draw='balanced')
    corners = windows_of(~mask, (16, 16)).float().argmax(-1)  # [B, 64]
    counts = torch.stack([(corners == k).sum(1) for k in range(4)], 1)
    assert (counts == 16).all()


def test_uniform_masker__independent_draw_varies_corner_counts_and_covers_all_corners():
    torch.manual_seed(0)
    mask = uniform_mask(4000, (4, 4), draw='independent')
    corners = windows_of(~mask, (4, 4)).float().argmax(-1)  # [B, 4]
    counts = torch.stack([(corners == k).sum(1) for k in range(4)], 1)
    assert not (counts == 1).all()          # balanced pools would force one of each
    assert (counts == 4).any(1).any()       # all windows on one corner is possible
    rate = (~mask).float().mean(0)
    assert torch.allclose(rate, torch.full_like(rate, 0.25), atol=0.03)


def test_uniform_masker__rejects_odd_unit_grid():
    with pytest.raises(ValueError, match='even unit grid'):
        UniformMasker()(torch.zeros(1, 3, 48, 64))
