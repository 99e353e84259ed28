"""Position-embedding resizing: absolute embeddings, relative tables, and mmpretrain's
own load-time hooks routed to the same resizer."""
import pytest
import torch

from mmmim.models.pos_embed import (
    resize_abs_pos_embed,
    resize_rel_pos_bias_table,
    sincos_pos_embed,
)


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


def test_resize_pos_embed__sincos_mode_regenerates_the_fixed_embedding():
    pos = torch.cat([torch.full((1, 1, 8), 3.), sincos_pos_embed((4, 4), 8)], 1)
    out = resize_abs_pos_embed(pos, (6, 8), mode='sincos')
    assert torch.equal(out[:, :1], pos[:, :1])
    assert torch.equal(out[:, 1:], sincos_pos_embed((6, 8), 8))


def perturbed(module):
    torch.manual_seed(0)
    with torch.no_grad():
        for p in module.parameters():
            p.normal_()
    return module


def saved_as_pretraining(module, tmp_path):
    """``module``'s tensors as a raw mmmim pretraining checkpoint (``encoder.*``)."""
    path = tmp_path / 'pretrain.pth'
    torch.save({'state_dict': {f'encoder.{k}': v for k, v in module.state_dict().items()}},
               path)
    return str(path)


def test_vit_pos_embed__mmpretrain_hook_and_mimpretrained_resize_identically(tmp_path):
    from mmpretrain.models import VisionTransformer
    from mmpretrain.models.utils.embed import resize_pos_embed as mmpretrain_resize

    from mmmim.converters import MIMPretrained
    arch = dict(embed_dims=16, num_layers=1, num_heads=2, feedforward_channels=16)
    src = perturbed(VisionTransformer(arch=arch, img_size=32, patch_size=8))
    expected = resize_abs_pos_embed(src.pos_embed.detach(), (6, 5), (4, 4))
    # mmpretrain's own function computes the same tensor (bicubic, class token kept)
    assert torch.equal(expected, mmpretrain_resize(src.pos_embed.detach(), (4, 4), (6, 5)))
    by_hook = VisionTransformer(arch=arch, img_size=(48, 40), patch_size=8)
    by_hook.load_state_dict(src.state_dict())              # mmpretrain's _prepare_pos_embed
    by_initializer = VisionTransformer(arch=arch, img_size=(48, 40), patch_size=8)
    MIMPretrained(saved_as_pretraining(src, tmp_path), target='mmpretrain')(by_initializer)
    assert torch.equal(by_hook.pos_embed, expected)
    assert torch.equal(by_initializer.pos_embed, expected)


def test_swin_tables__mmpretrain_hook_and_mimpretrained_resize_identically(tmp_path):
    from mmpretrain.models import SwinTransformer

    from mmmim.compat import route_mmpretrain_resizers
    from mmmim.converters import MIMPretrained
    assert 'mmpretrain.models.backbones.swin_transformer.resize_relative_position_bias_table' \
        in route_mmpretrain_resizers()
    arch = dict(embed_dims=8, depths=[1, 1], num_heads=[1, 2])
    src = perturbed(SwinTransformer(arch=arch, img_size=64, window_size=4, out_indices=(1,)))
    key = 'stages.1.blocks.0.attn.w_msa.relative_position_bias_table'
    expected = resize_rel_pos_bias_table(src.state_dict()[key], (6, 6))
    assert expected.shape == (11 * 11, 2)
    by_hook = SwinTransformer(arch=arch, img_size=96, window_size=6, out_indices=(1,))
    # mmpretrain's _prepare_relative_position_bias_table (its SciPy interp2d path before)
    by_hook.load_state_dict(src.state_dict(), strict=False)
    by_initializer = SwinTransformer(arch=arch, img_size=96, window_size=6, out_indices=(1,))
    MIMPretrained(saved_as_pretraining(src, tmp_path), target='mmpretrain')(by_initializer)
    assert torch.equal(by_hook.state_dict()[key], expected)
    assert torch.equal(by_initializer.state_dict()[key], expected)
