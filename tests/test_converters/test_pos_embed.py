"""Absolute position-embedding resizing (users.md item 7)."""
import pytest
import torch

from mmmim.converters import resize_abs_pos_embed
from mmmim.models.utils import sincos_pos_embed


def ramp_embed(h, w, extra=1):
    """Channel 0 = row index, channel 1 = column index, after ``extra`` tokens."""
    rows, cols = torch.meshgrid(torch.arange(h, dtype=torch.float),
                                torch.arange(w, dtype=torch.float), indexing='ij')
    grid = torch.stack([rows, cols], -1).reshape(1, h * w, 2)
    return torch.cat([torch.full((1, extra, 2), 7.), grid], 1)


def test_resize_pos_embed__same_grid_is_identity():
    pos = torch.randn(1, 1 + 16, 8)
    assert resize_abs_pos_embed(pos, (4, 4)) is pos


def test_resize_pos_embed__class_token_kept_and_shape_non_square():
    pos = torch.randn(1, 1 + 16, 8)
    out = resize_abs_pos_embed(pos, (6, 3))
    assert out.shape == (1, 1 + 18, 8)
    assert torch.equal(out[:, :1], pos[:, :1])


def test_resize_pos_embed__rows_stay_rows_on_non_square_grids():
    out = resize_abs_pos_embed(ramp_embed(3, 5), (6, 10), src_grid=(3, 5))
    grid = out[0, 1:].reshape(6, 10, 2)
    # row coordinate constant along a row, column coordinate constant down a column
    assert torch.allclose(grid[..., 0], grid[:, :1, 0].expand(6, 10), atol=1e-5)
    assert torch.allclose(grid[..., 1], grid[:1, :, 1].expand(6, 10), atol=1e-5)
    assert (grid[1:, 0, 0] > grid[:-1, 0, 0]).all() and (grid[0, 1:, 1] > grid[0, :-1, 1]).all()


def test_resize_pos_embed__smooth_embedding_survives_a_round_trip():
    pos = torch.cat([torch.zeros(1, 1, 32), sincos_pos_embed((8, 8), 32)], 1)
    back = resize_abs_pos_embed(resize_abs_pos_embed(pos, (16, 12)), (8, 8), src_grid=(16, 12))
    assert back.shape == pos.shape
    assert (back - pos).abs().max() < 0.05


def test_resize_pos_embed__non_square_source_needs_its_grid():
    with pytest.raises(ValueError, match='square'):
        resize_abs_pos_embed(torch.randn(1, 1 + 12, 4), (4, 4))
