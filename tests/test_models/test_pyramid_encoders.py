"""Swin and PVT encoders on the compact grid (UM-MAE) and with mask tokens (SimMIM)."""
import pytest
import torch
from mmdet.models.backbones.pvt import PyramidVisionTransformer
from mmpretrain.models.backbones import SwinTransformer
from photos import photo_tensor

from mmmim.converters.pvt import pooled_sr_to_conv
from mmmim.models import MaskSet
from mmmim.models.encoders import MaskedPVT, MaskedSwin
from mmmim.models.encoders.compaction import compact_map, window_choice
from mmmim.models.maskers import BlockMasker, UniformMasker

TINY_SWIN = dict(embed_dims=16, depths=[1, 2, 1, 1], num_heads=[1, 2, 2, 4])
TINY_PVT = dict(embed_dims=8, num_layers=[1, 1, 2, 1], num_heads=[1, 2, 2, 4])


def tiny_swin(size=128, **kwargs) -> MaskedSwin:
    torch.manual_seed(0)
    kwargs.setdefault('window_size', 4)
    model = MaskedSwin(arch=TINY_SWIN, img_size=size, **kwargs)
    model.init_weights()
    model.eval()  # mmpretrain's Swin.train() returns None
    return model


def tiny_pvt(size=128, **kwargs) -> MaskedPVT:
    torch.manual_seed(0)
    model = MaskedPVT(pretrain_img_size=size, **TINY_PVT, **kwargs)
    model.init_weights()
    model.eval()  # mmpretrain's Swin.train() returns None
    return model


def uniform_masks(images, secondary_ratio=0.0, seed=0) -> MaskSet:
    torch.manual_seed(seed)
    return UniformMasker(secondary_ratio=secondary_ratio)(images)


def reference_compaction(x: torch.Tensor, masks: MaskSet) -> torch.Tensor:
    """Loop by loop: window (i, j) of the output gets its visible unit of ``x``."""
    gh, gw = masks.grid
    u = x.shape[-1] // gw
    out = x.new_zeros(x.shape[0], x.shape[1], x.shape[2] // 2, x.shape[3] // 2)
    for b in range(x.shape[0]):
        for unit in masks.visible[b].nonzero().flatten().tolist():
            r, c = divmod(unit, gw)
            out[b, :, r // 2 * u:(r // 2 + 1) * u, c // 2 * u:(c // 2 + 1) * u] = \
                x[b, :, r * u:(r + 1) * u, c * u:(c + 1) * u]
    return out


def test_compaction__equals_gathering_visible_units_of_full_token_map():
    swin = tiny_swin()
    images = photo_tensor(128)
    masks = uniform_masks(images)
    tokens, hw = swin.patch_embed(images)                          # full grid 32x32
    full_map = tokens.transpose(1, 2).reshape(4, -1, *hw)
    compact = compact_map(full_map, window_choice(masks.visible, masks.grid))
    assert compact.shape[-2:] == (16, 16)
    assert torch.equal(compact, reference_compaction(full_map, masks))


def test_compaction__of_image_then_patch_embed_equals_embedding_then_compaction():
    swin = tiny_swin()
    images = photo_tensor(128)
    masks = uniform_masks(images)
    choice = window_choice(masks.visible, masks.grid)
    tokens, hw = swin.patch_embed(images)
    embed_then_compact = compact_map(tokens.transpose(1, 2).reshape(4, -1, *hw), choice)
    compact_tokens, chw = swin.patch_embed(compact_map(images, choice))
    compact_then_embed = compact_tokens.transpose(1, 2).reshape(4, -1, *chw)
    assert torch.allclose(embed_then_compact, compact_then_embed, atol=1e-5)


@pytest.mark.parametrize('size, compact_sides, full_sides', [
    (224, [28, 14, 7, 4], [56, 28, 14, 7]), (256, [32, 16, 8, 4], [64, 32, 16, 8])])
def test_masked_swin__stage_shapes_at_224_and_256(size, compact_sides, full_sides):
    images = torch.zeros(1, 3, size, size)
    for masking, masks, sides in [('compact', uniform_masks(images), compact_sides),
                                  ('mask_token', BlockMasker(unit_size=16)(images), full_sides)]:
        out = tiny_swin(size, window_size=7, masking=masking)(images, masks)
        assert [out.tap_hw[f'stage{i}'] for i in range(4)] == [(s, s) for s in sides]
        assert out.hw == (sides[-1], sides[-1]) and out.tokens.shape == (1, sides[-1]**2, 128)


@pytest.mark.parametrize('size, compact_sides, full_sides', [
    (224, [28, 14, 7, 3], [56, 28, 14, 7]), (256, [32, 16, 8, 4], [64, 32, 16, 8])])
def test_masked_pvt__stage_shapes_at_224_and_256(size, compact_sides, full_sides):
    images = torch.zeros(1, 3, size, size)
    for masking, masks, sides in [('compact', uniform_masks(images), compact_sides),
                                  ('mask_token', BlockMasker(unit_size=16)(images), full_sides)]:
        out = tiny_pvt(size, masking=masking)(images, masks)
        assert [out.tap_hw[f'stage{i}'] for i in range(4)] == [(s, s) for s in sides]
        assert out.tokens.shape == (1, sides[-1]**2, 32)


def test_masked_swin__compact_output_is_plain_swin_on_the_compacted_image():
    """The relative position bias sees the compact grid: the encoder is exactly
    mmpretrain's Swin run on the image of the packed visible units."""
    ours = tiny_swin()
    plain = SwinTransformer(arch=TINY_SWIN, img_size=128, window_size=4, drop_path_rate=0.,
                            stage_cfgs=ours.clamped_windows(TINY_SWIN, 128, 4, 4, 'compact', {}))
    plain.load_state_dict(ours.state_dict())
    images = photo_tensor(128)
    masks = uniform_masks(images)
    out = ours(images, masks)
    plain.eval()
    expected = plain(reference_compaction(images, masks))[0]   # [B, C, 2, 2]
    assert out.hw == (2, 2)
    assert torch.allclose(out.tokens, expected.flatten(2).transpose(1, 2), atol=1e-5)


def test_masked_swin__without_masks_is_plain_mmpretrain_swin():
    ours = tiny_swin(masking='mask_token')
    plain = SwinTransformer(arch=TINY_SWIN, img_size=128, window_size=4, drop_path_rate=0.)
    state = {k: v for k, v in ours.state_dict().items() if k != 'mask_token'}
    plain.load_state_dict(state)
    images = photo_tensor(128)
    plain.eval()
    assert torch.allclose(ours(images)[0], plain(images)[0], atol=1e-5)


@pytest.mark.parametrize('build', [tiny_swin, tiny_pvt])
def test_compact_encoder__sees_only_visible_non_secondary_pixels(build):
    encoder = build(secondary_token=True)
    images = photo_tensor(128)
    masks = uniform_masks(images, secondary_ratio=0.25)
    reference = encoder(images, masks).tokens

    def perturbed_at(units):
        changed = images.clone()
        r, c = divmod(units[0].nonzero()[0].item(), masks.grid[1])
        changed[0, :, r * 16:(r + 1) * 16, c * 16:(c + 1) * 16] += 3.0
        return encoder(changed, masks).tokens

    assert torch.equal(perturbed_at(masks.mask), reference)
    assert torch.equal(perturbed_at(masks.secondary), reference)
    assert not torch.allclose(perturbed_at(masks.visible & ~masks.secondary), reference)


@pytest.mark.parametrize('build', [tiny_swin, tiny_pvt])
def test_mask_token_encoder__masked_pixels_do_not_matter(build):
    encoder = build(masking='mask_token')
    images = photo_tensor(128)
    torch.manual_seed(0)
    masks = BlockMasker(ratio=0.6, unit_size=32)(images)
    changed = images.clone()
    changed += 3.0 * torch.repeat_interleave(torch.repeat_interleave(
        masks.mask.view(4, 1, 4, 4).float(), 32, 2), 32, 3)
    assert torch.allclose(encoder(changed, masks).tokens, encoder(images, masks).tokens,
                          atol=1e-6)


def test_masked_swin__keys_are_mmpretrain_swin_keys():
    plain = SwinTransformer(arch=TINY_SWIN, img_size=128, window_size=4)
    for masking, extra in [('compact', {'secondary_token'}), ('mask_token', {'mask_token'})]:
        ours = tiny_swin(masking=masking, secondary_token=True).state_dict()
        assert set(ours) - extra == set(plain.state_dict())


def test_masked_pvt__keys_are_mmdet_pvt_keys_and_pooled_sr_converts_exactly():
    """Keys are mmdet's plus the final ``norm`` and the learnable tokens; converted
    SR kernels make mmdet's PVT (sr ratios 8/4/2/1) compute exactly our plain
    forward."""
    ours = tiny_pvt(secondary_token=True)
    mmdet_pvt = PyramidVisionTransformer(pretrain_img_size=128, **TINY_PVT, convert_weights=False)
    extra = {'norm.weight', 'norm.bias', 'secondary_token'}
    assert set(ours.state_dict()) - extra == set(mmdet_pvt.state_dict())
    state = {k: v for k, v in ours.state_dict().items() if k not in extra}
    mmdet_pvt.load_state_dict(pooled_sr_to_conv(state, (8, 4, 2, 1)))
    images = photo_tensor(128)
    for a, b in zip(ours(images), mmdet_pvt.eval()(images)):
        assert torch.allclose(a, b, atol=1e-5)


def test_masked_pvt__compact_positions_are_the_visible_units_full_grid_positions():
    """Stage-1 tokens on the compact grid carry the full-grid embedding of the unit
    they came from; the stage-1 key/value grid is the same 4x4 as the full grid's
    (SR 8 on 32x32 tokens, 4 on the compact 16x16)."""
    pvt = tiny_pvt()
    images = photo_tensor(128)
    masks = uniform_masks(images)
    seen = {}
    pvt.layers[0][1][1].register_forward_pre_hook(lambda m, a: seen.update(x=a[0]))
    sr = pvt.layers[0][1][1].attn.sr
    reduce_tokens = sr.reduce_tokens

    def recording(x, hw_shape, pool=None):                          # [B, H * W / pool^2, C]
        out = reduce_tokens(x, hw_shape, pool)
        seen.update(kv=[h // (pool or sr.pool) for h in hw_shape], kv_tokens=out.shape[1])
        return out

    sr.reduce_tokens = recording
    pvt(images, masks)
    tokens, hw = pvt.layers[0][0](images)                           # full grid 32x32
    full = tokens + pvt.layers[0][1][0].pos_embed                   # [B, 1024, C]
    expected = reference_compaction(full.transpose(1, 2).reshape(4, -1, *hw), masks)
    assert torch.allclose(seen['x'], expected.flatten(2).transpose(1, 2), atol=1e-5)
    assert tuple(seen['kv']) == (4, 4) and seen['kv_tokens'] == 16


def test_masked_pvt__compact_pooling_is_per_call_and_leaves_the_modules_unchanged():
    """The compact forward halves each reduction's pooling for its own call only: the
    modules keep their full-grid ratios throughout, so a plain forward after it
    equals one before it."""
    pvt = tiny_pvt()
    images = photo_tensor(128)
    reductions = [m for m in pvt.modules() if hasattr(m, 'reduce_tokens')]
    ratios = [m.pool for m in reductions]
    plain = pvt(images)
    seen = []
    pvt.layers[0][1][1].register_forward_pre_hook(
        lambda m, a: seen.append([r.pool for r in reductions]))
    pvt(images, uniform_masks(images))
    assert seen == [ratios] and ratios == [8, 4, 2, 2]   # stage 3 has two blocks
    assert all(torch.equal(a, b) for a, b in zip(plain, pvt(images)))


def test_compact_encoder__rejects_non_uniform_masks():
    images = photo_tensor(128)
    with pytest.raises(ValueError, match='one visible unit per 2x2 window'):
        tiny_swin()(images, BlockMasker(unit_size=16, ratio=0.75)(images))


def test_masked_swin__pretrained_keys_load_into_finetuning_swin_with_larger_windows():
    """Compact-grid pretraining at 256 px (window 4) -> fine-tuning Swin with window
    8 (the same pixel extent): only the resized tables' index buffers are rebuilt."""
    ours = tiny_swin(256, secondary_token=True)
    finetune = SwinTransformer(arch=TINY_SWIN, img_size=256, window_size=8)
    result = finetune.load_state_dict(ours.state_dict(), strict=False)
    assert result.unexpected_keys == ['secondary_token']
    assert all(k.endswith('relative_position_index') for k in result.missing_keys)
    table = finetune.stages[0].blocks[0].attn.w_msa.relative_position_bias_table
    assert table.shape == (15 * 15, 1) and torch.isfinite(table).all()


def test_masked_swin__absolute_positions_follow_the_units_on_the_compact_grid():
    swin = tiny_swin(use_abs_pos_embed=True)
    images = photo_tensor(128)
    masks = uniform_masks(images)
    tokens, hw = swin.embed_masked(images, masks)                    # compact 16x16
    full, full_hw = swin.patch_embed(images)                         # full 32x32
    full = (full + swin.absolute_pos_embed).transpose(1, 2).reshape(4, -1, *full_hw)
    expected = reference_compaction(full, masks).flatten(2).transpose(1, 2)
    assert hw == (16, 16) and torch.allclose(tokens, expected, atol=1e-5)


@pytest.mark.parametrize('build, names', [
    (tiny_swin, [f'{kind}{i}' for i in range(4) for kind in ('stage', 'merged')]),
    (tiny_pvt, [f'stage{i}' for i in range(4)])])
def test_pyramid_encoder__taps_named_with_their_widths(build, names):
    encoder = build()
    images = photo_tensor(128)
    out = encoder(images, uniform_masks(images))
    assert sorted(out.taps) == sorted(names) == sorted(encoder.tap_dims)
    for name, tap in out.taps.items():
        h, w = out.tap_hw[name]
        assert tap.shape == (4, h * w, encoder.tap_dims[name])
