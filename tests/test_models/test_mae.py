import torch
from mmengine.registry import init_default_scope
from test_models.tiny import tiny_mae_cfg

from mmmim.models import MaskSet
from mmmim.models.targets import PixelTarget
from mmmim.models.utils import gather_rows, patchify, scatter_rows, unpatchify
from mmmim.registry import MODELS

init_default_scope('mmmim')


def build_tiny_mae(**overrides):
    torch.manual_seed(0)
    model = MODELS.build(tiny_mae_cfg(**overrides))
    model.init_weights()
    return model


def real_batch(photo_batch, size=64):
    return torch.nn.functional.interpolate(photo_batch, size=(size, size), mode='bilinear')


def test_norm_pix_target__zero_mean_unit_variance_per_patch(photo_batch):
    target = PixelTarget(patch_size=16)(photo_batch)
    assert target.shape == (photo_batch.shape[0], (photo_batch.shape[2] // 16) ** 2, 16 * 16 * 3)
    assert torch.allclose(target.mean(-1), torch.zeros(1), atol=1e-4)
    assert torch.allclose(target.var(-1), torch.ones(1), atol=1e-3)


def test_patchify__unpatchify_round_trip(photo_batch):
    patches = patchify(photo_batch, 16)
    grid = (photo_batch.shape[2] // 16, photo_batch.shape[3] // 16)
    assert torch.equal(unpatchify(patches, 16, grid), photo_batch)


def test_gather_scatter__visible_rows_return_to_their_positions():
    tokens = torch.arange(2 * 6 * 1.).view(2, 6, 1)
    keep = torch.tensor([[1, 0, 1, 0, 0, 1], [0, 1, 1, 0, 1, 0]], dtype=torch.bool)
    masks = MaskSet(mask=~keep, grid=(2, 3), unit_size=16, num_masked=3)
    rows = gather_rows(tokens, masks.visible_rows)
    assert rows.squeeze(-1).tolist() == [[0, 2, 5], [7, 8, 10]]
    back = scatter_rows(torch.full_like(tokens, -1.), rows, masks.visible_rows)
    assert torch.equal(back[keep], tokens[keep]) and (back[~keep] == -1).all()


def test_mae_encoder__sees_only_visible_units(photo_batch):
    model = build_tiny_mae()
    images = real_batch(photo_batch)
    masks = model.masker(images)
    latent = model.encoder(images, masks)
    assert latent.tokens.shape == (images.shape[0], 1 + 4, 32)  # cls + 25% of 16
    # changing masked pixels does not change the encoder output
    changed = images.clone()
    unit = masks.mask[0].view(4, 4).nonzero()[0]
    r, c = unit.tolist()
    changed[0, :, r * 16:(r + 1) * 16, c * 16:(c + 1) * 16] += 5.0
    assert torch.allclose(model.encoder(changed, masks).tokens, latent.tokens)


def test_mae_loss__unaffected_by_predictions_on_visible_units(photo_batch):
    model = build_tiny_mae()
    images = real_batch(photo_batch)
    masks = model.masker(images)
    target = model.target(images)
    pred = torch.randn_like(target, requires_grad=True)
    loss = model.reconstruction_loss(pred, target, masks, images)
    loss.backward()
    assert (pred.grad[masks.visible] == 0).all()
    assert (pred.grad[masks.mask].abs().sum(-1) > 0).all()
    perturbed = pred.detach().clone()
    perturbed[masks.visible] += 100.0
    assert torch.allclose(model.reconstruction_loss(perturbed, target, masks, images), loss)


def test_mae_decoder__each_visible_token_lands_on_its_own_unit():
    model = build_tiny_mae()
    decoder = model.decoder
    mask = torch.tensor([[True, False, True, True], [False, True, True, True]])
    masks = MaskSet(mask=mask, grid=(2, 2), unit_size=16)
    captured = {}
    decoder.blocks[0].register_forward_pre_hook(lambda m, a: captured.setdefault('x', a[0]))
    tokens = torch.randn(2, 2, 32)  # cls + one visible token each
    from mmmim.models import EncoderOutput
    decoder(EncoderOutput(tokens=tokens, hw=(2, 2), num_extra_tokens=1), masks)
    from mmmim.models.pos_embed import sincos_pos_embed
    embedded = decoder.embed(tokens)
    pos = sincos_pos_embed((2, 2), 32)[0]
    x = captured['x']
    assert torch.allclose(x[0, 1 + 1], embedded[0, 1] + pos[1], atol=1e-6)
    assert torch.allclose(x[1, 1 + 0], embedded[1, 1] + pos[0], atol=1e-6)
    assert torch.allclose(x[0, 1 + 0], decoder.mask_token[0, 0] + pos[0], atol=1e-6)


def test_mae__train_step_gives_finite_loss_and_grads_everywhere(photo_batch):
    from mmengine.optim import OptimWrapper
    model = build_tiny_mae()
    images = real_batch(photo_batch)
    losses = model(images, mode='loss')
    assert torch.isfinite(losses['loss'])
    losses['loss'].backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, missing
    optim = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-3))
    before = model.encoder.layers[0].attn.qkv.weight.detach().clone()
    model.train_step(dict(inputs=list((images * 50 + 120).clamp(0, 255).byte())), optim)
    assert not torch.equal(before, model.encoder.layers[0].attn.qkv.weight)


def test_mae_encoder__keys_match_mmpretrain_vision_transformer():
    from mmpretrain.models.backbones import VisionTransformer
    from test_models.tiny import TINY_VIT
    ours = build_tiny_mae().encoder.state_dict().keys()
    theirs = VisionTransformer(arch=TINY_VIT, img_size=64, patch_size=16).state_dict().keys()
    assert set(ours) == set(theirs)


def decoder_outputs_and_grads(decoder, latent, masks, masked_only):
    """Predictions of the masked units and the gradients of their squared sum."""
    decoder.zero_grad()
    tokens = latent.tokens.detach().clone().requires_grad_()
    from mmmim.models import EncoderOutput
    latent = EncoderOutput(tokens=tokens, hw=latent.hw, num_extra_tokens=latent.num_extra_tokens)
    if masked_only:
        pred = decoder(latent, masks, rows=masks.masked_rows)
    else:
        pred = gather_rows(decoder(latent, masks), masks.masked_rows)
    (pred * torch.linspace(-1, 1, pred.shape[-1])).square().sum().backward()
    return [pred, tokens.grad] + [p.grad for p in decoder.parameters() if p.grad is not None]


def test_mae_decoder__masked_only_gives_the_masked_units_predictions_and_gradients(photo_batch):
    """The last block computes only the masked rows: the same predictions of those
    units and the same gradients everywhere as the full forward (two blocks, one
    of them before the last, with and without activation checkpointing)."""
    for with_cp in (False, True):
        model = build_tiny_mae(decoder=dict(type='MAEDecoder', dims=32, depth=2, num_heads=2,
                                            with_cp=with_cp))
        images = real_batch(photo_batch)
        masks = model.masker(images)
        assert masks.num_masked == 12                              # 75% of 4x4 units
        latent = model.encoder(images, masks)
        full = decoder_outputs_and_grads(model.decoder, latent, masks, False)
        rows = decoder_outputs_and_grads(model.decoder, latent, masks, True)
        assert rows[0].shape == (images.shape[0], 12, 16 * 16 * 3)
        assert len(rows) == len(full)
        for got, want in zip(rows, full):
            torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_mae_loss__takes_the_masked_only_predictions_and_equals_the_full_loss(photo_batch):
    model = build_tiny_mae()
    images = real_batch(photo_batch)
    calls = []
    decoder_forward = model.decoder.forward
    model.decoder.forward = lambda *a, **kw: calls.append((a[1], kw)) or decoder_forward(*a, **kw)
    torch.manual_seed(3)
    loss = model(images, mode='loss')['loss']
    (masks, kwargs), = calls
    assert list(kwargs) == ['rows'] and torch.equal(kwargs['rows'], masks.masked_rows)
    torch.manual_seed(3)
    masks = model.masker(images)
    full = model.reconstruction_loss(model.decoder(model.encoder(images, masks), masks),
                                     model.target(images), masks, images)
    torch.testing.assert_close(loss, full, atol=1e-6, rtol=1e-5)


def test_mae_loss__full_predictions_when_the_target_grid_is_not_the_masks():
    """8-px targets under 16-px mask units: the loss resamples the mask, so the
    decoder predicts every unit."""
    model = build_tiny_mae(target=dict(type='PixelTarget', patch_size=8))
    masks = model.masker(torch.zeros(2, 3, 64, 64))
    assert model.loss_rows(masks, torch.zeros(2, 3, 64, 64)) is None


def test_mae_loss__masked_rows_only_for_a_known_masked_count():
    model = build_tiny_mae()
    masks = MaskSet(mask=torch.tensor([[True, False, True, True]]), grid=(2, 2), unit_size=16)
    assert model.loss_rows(masks, torch.zeros(1, 3, 32, 32)) is None
    masks.num_masked = 3
    assert torch.equal(model.loss_rows(masks, torch.zeros(1, 3, 32, 32)),
                       torch.tensor([[0, 2, 3]]))


def test_one_mae_step__sorts_the_mask_once(photo_batch):
    """Encoder, decoder and loss share the MaskSet's row indices: a step sorts the
    mask once (the masker's own draw left out)."""
    from torch.overrides import TorchFunctionMode
    sorts = (torch.argsort, torch.Tensor.argsort, torch.sort, torch.Tensor.sort)

    class CountSorts(TorchFunctionMode):
        calls = 0

        def __torch_function__(self, func, types, args=(), kwargs=None):
            CountSorts.calls += func in sorts
            return func(*args, **(kwargs or {}))

    model = build_tiny_mae()
    images = real_batch(photo_batch)
    masks = model.masker(images)
    model.masker.forward = lambda inputs: masks
    with CountSorts():
        loss = model(images, mode='loss')['loss']
        loss.backward()
    assert CountSorts.calls == 1
