"""LocalMIM: multi-level decoders on encoder taps, multi-scale targets, isolated levels."""
import pytest
import torch
from mmengine.registry import init_default_scope
from mmpretrain.models.backbones import SwinTransformer
from photos import photo_tensor
from torch import nn

from mmmim.models import MaskSet
from mmmim.models.decoders.localmim_decoder import LocalMIMDecoder
from mmmim.models.encoders import MaskedSwin
from mmmim.models.structures import EncoderOutput
from mmmim.models.targets import MultiScalePixelTarget, PixelTarget
from mmmim.registry import MODELS

init_default_scope('mmmim')

TINY_SWIN = dict(embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 2, 2, 4])
TINY_VIT = dict(embed_dims=32, num_layers=4, num_heads=2, feedforward_channels=64)
SCALES = {'block0': (4, 'cell4'), 'block1': (2, 'cell8'), 'block2': (1, 'cell16'),
          'out': (0.5, 'cell32')}


def tiny_localmim(**overrides):
    """A 4-block ViT at 64 px with LocalMIM's four levels (16/8/4/2 cells)."""
    levels = [dict(tap=tap, target=scale,
                   decoder=dict(type='LocalMIMDecoder', dims=32, num_heads=2, scale=s))
              for tap, (s, scale) in SCALES.items()]
    cfg = dict(type='MultiLevelMaskedImageModel',
               masker=dict(type='RandomMasker', ratio=0.75, unit_size=16),
               encoder=dict(type='MaskedViT', arch=TINY_VIT, img_size=64, patch_size=16),
               levels=levels, target=dict(type='HOGTarget', nbins=9, cell_sizes=(4, 8, 16, 32)))
    cfg.update(overrides)
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def fixed_masks(batch: int, grid=(4, 4)) -> MaskSet:
    """12 of 16 units masked per sample; sample 0 keeps the top-left 2x2 block visible
    (a fully visible 32-px cell), sample 1 one unit in each 2x2 block (fractional)."""
    mask = torch.ones(batch, grid[0] * grid[1], dtype=torch.bool)
    mask[0, [0, 1, 4, 5]] = False
    mask[1:, [0, 3, 9, 14]] = False
    return MaskSet(mask=mask, grid=grid, unit_size=16)


def hooked_outputs(modules):
    """Forward hooks recording each module's output."""
    seen = {}
    handles = [m.register_forward_hook(lambda mod, args, out, i=i: seen.__setitem__(i, out))
               for i, m in enumerate(modules)]
    return seen, handles


def test_vit_taps__equal_block_outputs_seen_by_forward_hooks(photo_batch):
    model = tiny_localmim()
    assert model.encoder.taps == (0, 1, 2)  # derived from the levels
    seen, handles = hooked_outputs(model.encoder.layers)
    masks = model.masker(photo_batch)
    latent = model.encoder(photo_batch, masks)
    for h in handles:
        h.remove()
    for i in range(3):
        assert torch.equal(latent.taps[f'block{i}'], seen[i])
    assert torch.equal(latent.tokens, model.encoder.ln1(seen[3]))  # the 'out' level


@pytest.mark.parametrize('scale,side', [(4, 56), (2, 28), (1, 14), (0.5, 7)])
def test_rescale_heads__grids_56_28_14_7_at_224(scale, side):
    torch.manual_seed(0)
    decoder = LocalMIMDecoder(in_dims=32, dims=32, num_heads=2, out_channels=27, scale=scale)
    decoder.init_weights()
    masks = MaskSet(mask=torch.rand(2, 196).argsort(1) < 147, grid=(14, 14), unit_size=16)
    latent = EncoderOutput(tokens=torch.randn(2, 1 + 49, 32), hw=(14, 14), num_extra_tokens=1)
    assert decoder(latent, masks).shape == (2, side * side, 27)


def recorded_weights(model, images, masks):
    """The mask weight the model hands the loss module at each level, with the
    masker's output replaced by ``masks``."""
    weights = []
    model.masker.register_forward_hook(lambda mod, args, out: masks)
    model.loss_module.register_forward_hook(lambda mod, args, out: weights.append(args[2]))
    model(images, mode='loss')
    return weights


def test_mask_resampling__nearest_for_fine_cells_and_exact_2x2_averages(photo_batch):
    masks = fixed_masks(photo_batch.shape[0])
    w4, w8, w16, w32 = recorded_weights(tiny_localmim(), photo_batch, masks)
    unit = masks.mask.view(-1, 4, 4).float()
    for w, k in ((w4, 4), (w8, 2)):  # cells of 4 / 8 px: each inside one 16-px unit
        expected = unit.repeat_interleave(k, 1).repeat_interleave(k, 2).flatten(1)
        assert torch.equal(w.float(), expected)
    assert torch.equal(w16, masks.mask)
    expected32 = torch.tensor([[0., 1., 1., 1.], [0.75, 0.75, 0.75, 0.75]])
    assert torch.equal(w32[:2], expected32)  # 32-px cells: mean over 2x2 units


def test_loss__ignores_predictions_on_visible_cells_at_every_scale(photo_batch):
    model = tiny_localmim()
    masks = fixed_masks(photo_batch.shape[0])
    targets = model.target.multi_scale(photo_batch)
    for level in model.levels:
        target = targets[level.target]
        grid = model.target.grid(photo_batch.shape[-2:], level.target)
        weight = torch.nn.functional.interpolate(  # independent of resample_mask
            masks.mask.view(-1, 1, 4, 4).float(), size=grid, mode='area').flatten(1)
        visible = weight == 0
        assert visible.any(), level
        pred = torch.randn_like(target, requires_grad=True)
        loss = model.level_loss(pred, target, masks, photo_batch, level.target)
        loss.backward()
        perturbed = pred.detach() + 100. * visible[..., None]
        assert torch.equal(model.level_loss(perturbed, target, masks, photo_batch,
                                            level.target), loss.detach())
        assert (pred.grad[visible] == 0).all() and pred.grad[~visible].abs().sum() > 0


def grads_from(model, images, level_name):
    model.zero_grad(set_to_none=True)
    model(images, mode='loss')[level_name].backward()
    return [None if layer.ffn.layers[1].weight.grad is None
            else layer.ffn.layers[1].weight.grad.abs().sum().item()
            for layer in model.encoder.layers]


def nonzero(grad):
    return grad is not None and grad > 0


def test_isolate_levels__upper_decoders_send_no_gradient_below_their_tap(photo_batch):
    isolated = tiny_localmim(isolate_levels=True)
    top = grads_from(isolated, photo_batch, 'loss_cell32')  # tap 'out', previous 'block2'
    assert [nonzero(g) for g in top] == [False, False, False, True]
    assert isolated.encoder.patch_embed.projection.weight.grad is None
    second = grads_from(isolated, photo_batch, 'loss_cell8')  # tap 'block1'
    assert [nonzero(g) for g in second] == [False, True, False, False]
    end_to_end = grads_from(tiny_localmim(), photo_batch, 'loss_cell32')
    assert all(nonzero(g) for g in end_to_end)
    # the switch only cuts gradients: same forward, hooks gone afterwards
    torch.manual_seed(1)
    a = isolated(photo_batch, mode='loss')
    torch.manual_seed(1)
    isolated.isolate_levels = False
    b = isolated(photo_batch, mode='loss')
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not any(layer._forward_pre_hooks for layer in isolated.encoder.layers)


def test_losses__one_per_level_summed_by_mmengine_into_the_total(photo_batch):
    model = tiny_localmim(levels=[
        dict(tap='block0', target='cell4', weight=2.0,
             decoder=dict(type='LocalMIMDecoder', dims=32, num_heads=2, scale=4)),
        dict(tap='out', target='cell16',
             decoder=dict(type='LocalMIMDecoder', dims=32, num_heads=2, scale=1))])
    torch.manual_seed(0)
    losses = model(photo_batch, mode='loss')
    assert sorted(losses) == ['loss_cell16', 'loss_cell4']
    total, log_vars = model.parse_losses(losses)
    assert torch.allclose(total, losses['loss_cell4'] + losses['loss_cell16'])
    assert set(log_vars) == {'loss', 'loss_cell4', 'loss_cell16'}


def test_multiscale_pixels__each_scale_equals_pixel_target(photo_batch):
    target = MultiScalePixelTarget(patch_sizes=(8, 16, 32, 32))
    maps = target.multi_scale(photo_batch)
    assert target.names == ('pix8', 'pix16', 'pix32', 'pix32') and len(maps) == 3
    for k in (8, 16, 32):
        assert torch.equal(maps[f'pix{k}'], PixelTarget(patch_size=k)(photo_batch))
        assert target.dims(f'pix{k}') == maps[f'pix{k}'].shape[-1]
        assert target.grid((64, 64), f'pix{k}') == (64 // k, 64 // k)


def test_full_grid_layout__stage_decoder_reads_only_visible_tokens():
    """Mask-token encoders (SimMIM-style) give every token; the stage decoder keeps
    the visible units' tokens and puts its own mask token elsewhere."""
    torch.manual_seed(0)
    decoder = LocalMIMDecoder(in_dims=16, dims=32, num_heads=2, out_channels=54, scale=None)
    decoder.init_weights()
    masks = MaskSet(mask=torch.rand(2, 16).argsort(1) < 12, grid=(4, 4), unit_size=32)
    tokens = torch.randn(2, 16 * 16, 16)                       # 8-px tokens at 128 px
    pred = decoder(EncoderOutput(tokens, (16, 16), layout='full_grid'), masks)
    assert pred.shape == (2, 256, 54)
    masked = masks.mask.view(2, 4, 1, 4, 1).expand(2, 4, 4, 4, 4).reshape(2, 256)
    changed = tokens + 10. * masked[..., None]
    assert torch.allclose(decoder(EncoderOutput(changed, (16, 16), layout='full_grid'), masks),
                          pred)


def test_predict__per_level_predictions_and_targets(photo_batch):
    outputs = tiny_localmim()(photo_batch, mode='predict')
    assert len(outputs) == photo_batch.shape[0]
    pred, target = outputs[0]['levels']['loss_cell4']
    assert pred.shape == target.shape == (16 * 16, 27)


def test_swin_merged_taps__equal_mmpretrain_out_after_downsample_features():
    """``merged{i}`` = stage i after its patch merging (the last stage: its output),
    i.e. mmpretrain's ``out_after_downsample=True`` features before their norms."""
    torch.manual_seed(0)
    ours = MaskedSwin(arch=TINY_SWIN, img_size=128, window_size=4, masking='mask_token')
    ours.init_weights()
    reference = SwinTransformer(arch=TINY_SWIN, img_size=128, window_size=4,
                                out_indices=(0, 1, 2, 3), out_after_downsample=True)
    state = {k: v for k, v in ours.state_dict().items()
             if k != 'mask_token' and not k.startswith('norm')}
    reference.load_state_dict(state, strict=False)
    for i in range(4):
        setattr(reference, f'norm{i}', nn.Identity())
    images = photo_tensor(128)
    nothing_masked = MaskSet(torch.zeros(4, 16, dtype=torch.bool), (4, 4), 32)
    ours.eval()  # mmpretrain's Swin.train() returns None: no chaining
    reference.eval()
    latent = ours(images, nothing_masked)
    features = reference(images)
    for i, feature in enumerate(features):
        tap = latent.taps[f'merged{i}']
        assert latent.tap_hw[f'merged{i}'] == tuple(feature.shape[-2:])
        assert ours.tap_dims[f'merged{i}'] == feature.shape[1] == tap.shape[-1]
        assert torch.allclose(tap, feature.flatten(2).transpose(1, 2), atol=1e-5)


def tiny_swin_localmim(masking='mask_token', **overrides):
    compact = masking == 'compact'
    levels = [dict(tap=tap, target=scale, decoder=dict(
                   type='LocalMIMDecoder', dims=32, num_heads=2, scale=None,
                   upsample=2 if compact and scale == 'cell32' else 1))
              for tap, scale in [('merged0', 'cell8'), ('merged1', 'cell16'),
                                 ('merged2', 'cell32'), ('out', 'cell32')]]
    masker = (dict(type='UniformMasker', unit_size=16, secondary_ratio=0.25) if compact
              else dict(type='RandomMasker', ratio=0.75, unit_size=32))
    cfg = dict(type='MultiLevelMaskedImageModel', masker=masker,
               encoder=dict(type='MaskedSwin', arch=TINY_SWIN, img_size=128, window_size=4,
                            masking=masking, secondary_token=compact),
               levels=levels, target=dict(type='HOGTarget', nbins=18, cell_sizes=(8, 16, 32, 32)))
    cfg.update(overrides)
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


@pytest.mark.parametrize('masking', ['mask_token', 'compact'])
def test_swin_levels__targets_8_16_32_32_and_isolated_top_level(masking):
    images = photo_tensor(128)
    model = tiny_swin_localmim(masking, isolate_levels=True)
    losses = model(images, mode='loss')
    assert sorted(losses) == ['loss_cell16', 'loss_cell32_merged2', 'loss_cell32_out',
                              'loss_cell8']
    losses['loss_cell32_out'].backward()  # tap 'out', previous tap 'merged2'
    grads = [[p.grad for p in stage.parameters()] for stage in model.encoder.stages]
    for below in grads[:3]:
        assert all(g is None or not g.any() for g in below)
    assert any(g is not None and g.any() for g in grads[3])


def test_level_scales__level_without_target_reads_the_target_scale_of_its_index():
    from mmmim.models.algorithms.multi_level import level_scales
    names = ('pix8', 'pix16', 'pix32', 'pix32')
    levels = [dict(tap='merged0'), dict(tap='merged1', target='pix8'),
              dict(tap='merged2'), dict(tap='out')]
    assert level_scales(levels, names) == ['pix8', 'pix8', 'pix32', 'pix32']
    assert level_scales([dict(target='a'), dict(target='b')], names) == ['a', 'b']
    with pytest.raises(ValueError, match='3 levels but the target has scales'):
        level_scales([dict(tap='x')] * 3, names)
