"""UM-MAE decoder: position alignment of visible tokens; loss over primary masks."""
import torch
from mmengine.registry import init_default_scope
from photos import photo_tensor

from mmmim.models import EncoderOutput, MaskSet
from mmmim.models.decoders import UMMAEDecoder
from mmmim.models.maskers import UniformMasker
from mmmim.models.pos_embed import sincos_pos_embed
from mmmim.registry import MODELS

init_default_scope('mmmim')


def tiny_decoder() -> UMMAEDecoder:
    torch.manual_seed(0)
    decoder = UMMAEDecoder(in_dims=24, dims=32, depth=1, num_heads=2)
    decoder.init_weights()
    return decoder


def decoder_input(decoder: UMMAEDecoder, latent: EncoderOutput, masks: MaskSet) -> torch.Tensor:
    """The tokens entering the decoder's first block ``[B, L, D]``."""
    seen = {}
    handle = decoder.mae.blocks[0].register_forward_pre_hook(lambda m, a: seen.update(x=a[0]))
    decoder(latent, masks)
    handle.remove()
    return seen['x']


def carries_own_positions(decoder: UMMAEDecoder, latent: EncoderOutput, masks: MaskSet) -> bool:
    """Each visible unit's decoder token = its window's upsampled token + the
    position of that very unit; each masked unit = mask token + its position."""
    b, (gh, gw) = latent.tokens.shape[0], masks.grid
    x = decoder_input(decoder, latent, masks)
    (h, w), dims = latent.hw, x.shape[-1]
    per_window = decoder.shuffle(decoder.expand(latent.tokens).transpose(1, 2)
                                 .reshape(b, -1, h, w))                # [B, D, gh/2, gw/2]
    pos = sincos_pos_embed(masks.grid, dims)[0]
    for i in range(b):
        for unit in range(gh * gw):
            r, c = divmod(unit, gw)
            content = (per_window[i, :, r // 2, c // 2] if masks.visible[i, unit]
                       else decoder.mae.mask_token[0, 0])
            if not torch.allclose(x[i, unit], content + pos[unit], atol=1e-5):
                return False
    return True


def test_ummae_decoder__each_visible_token_carries_its_own_unit_position():
    decoder = tiny_decoder()
    torch.manual_seed(1)
    masks = UniformMasker(secondary_ratio=0.)(torch.zeros(3, 3, 128, 128))  # 8x8 units
    latent = EncoderOutput(tokens=torch.randn(3, 4, 24), hw=(2, 2))
    assert carries_own_positions(decoder, latent, masks)


class WindowOrderDecoder(UMMAEDecoder):
    """The official code's probable bug: visible tokens handed over in window order."""

    def forward(self, latent, masks, rows=None):
        in_window_order = self.to_windows(latent, masks).tokens
        return self.mae(EncoderOutput(in_window_order, masks.grid), masks, rows)


def test_ummae_decoder__alignment_check_catches_window_order_hand_over():
    buggy = WindowOrderDecoder(in_dims=24, dims=32, depth=1, num_heads=2)
    buggy.load_state_dict(tiny_decoder().state_dict())
    # windows (0,0) and (0,1) keep bottom-left and top-right: raster and window orders differ
    visible = torch.zeros(1, 4, 4, dtype=torch.bool)
    visible[0, 1, 0] = visible[0, 0, 3] = visible[0, 3, 1] = visible[0, 2, 2] = True
    masks = MaskSet(mask=~visible.flatten(1), grid=(4, 4), unit_size=16)
    latent = EncoderOutput(tokens=torch.randn(1, 1, 24), hw=(1, 1))
    assert not carries_own_positions(buggy, latent, masks)
    assert carries_own_positions(tiny_decoder(), latent, masks)


def tiny_ummae_swin():
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='MaskedImageModel',
        masker=dict(type='UniformMasker', secondary_ratio=0.25),
        encoder=dict(type='MaskedSwin', arch=dict(embed_dims=16, depths=[1, 1, 1, 1],
                                                   num_heads=[1, 2, 2, 4]),
                     img_size=128, window_size=4, secondary_token=True),
        decoder=dict(type='UMMAEDecoder', dims=32, depth=1, num_heads=2),
        target=dict(type='PixelTarget', patch_size=16)))
    model.init_weights()
    return model


def test_ummae_loss__unaffected_by_predictions_on_visible_and_secondary_units():
    model = tiny_ummae_swin()
    images = photo_tensor(128)
    masks = model.masker(images)
    target = model.target(images)
    pred = torch.randn_like(target, requires_grad=True)
    loss = model.reconstruction_loss(pred, target, masks, images)
    loss.backward()
    assert (pred.grad[masks.visible] == 0).all() and masks.secondary.any()
    assert (pred.grad[masks.mask].abs().sum(-1) > 0).all()
    perturbed = pred.detach().clone()
    perturbed[masks.visible] += 100.0       # secondary units are a subset of visible
    assert torch.allclose(model.reconstruction_loss(perturbed, target, masks, images), loss)


def test_ummae_swin__train_step_finite_loss_and_every_parameter_gets_a_gradient():
    model = tiny_ummae_swin()
    loss = model(photo_tensor(128), mode='loss')['loss']
    assert torch.isfinite(loss)
    loss.backward()
    assert not [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]


def test_ummae_vit__encoder_sees_one_unit_per_window_and_no_secondary_content():
    """ViT needs no compaction: the MAE encoder gathers the 25% visible units and
    secondary-masked ones enter as the secondary token."""
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='MaskedImageModel',
        masker=dict(type='UniformMasker', secondary_ratio=0.25),
        encoder=dict(type='MaskedViT', arch=dict(embed_dims=32, num_layers=1, num_heads=2,
                                                  feedforward_channels=64),
                     img_size=128, patch_size=16, secondary_token=True),
        decoder=dict(type='MAEDecoder', dims=32, depth=1, num_heads=2),
        target=dict(type='PixelTarget', patch_size=16)))
    model.init_weights()
    images = photo_tensor(128)
    masks = model.masker(images)
    tokens = model.encoder(images, masks).tokens
    assert tokens.shape == (4, 1 + 16, 32) and (masks.secondary.sum(1) == 4).all()
    changed = images.clone()
    r, c = divmod(masks.secondary[0].nonzero()[0].item(), 8)
    changed[0, :, r * 16:(r + 1) * 16, c * 16:(c + 1) * 16] += 3.0
    assert torch.equal(model.encoder(changed, masks).tokens, tokens)


def test_ummae_decoder__masked_rows_give_the_masked_units_predictions():
    decoder = tiny_decoder()
    torch.manual_seed(1)
    masks = UniformMasker(secondary_ratio=0.25)(torch.zeros(3, 3, 128, 128))  # 8x8 units
    latent = EncoderOutput(tokens=torch.randn(3, 4, 24), hw=(2, 2))
    full = decoder(latent, masks)                                          # [B, 64, D]
    rows = decoder(latent, masks, rows=masks.masked_rows)                  # [B, 48, D]
    assert rows.shape == (3, masks.num_masked, full.shape[-1]) and masks.num_masked == 48
    want = full[masks.mask].view(3, masks.num_masked, -1)
    torch.testing.assert_close(rows, want, atol=1e-5, rtol=1e-5)
