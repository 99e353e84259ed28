"""SimMIM on pyramid encoders: linear decoder, L1 over masked pixels."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from photos import photo_tensor

from mmmim.models import EncoderOutput
from mmmim.models.decoders import SimMIMDecoder
from mmmim.models.maskers import BlockMasker
from mmmim.models.utils import unpatchify
from mmmim.registry import MODELS

init_default_scope('mmmim')


def test_simmim_decoder__equals_1x1_conv_then_pixel_shuffle():
    torch.manual_seed(0)
    decoder = SimMIMDecoder(in_dims=16, unit_size=8)
    tokens = torch.randn(2, 9, 16)
    masks = BlockMasker(unit_size=8)(torch.zeros(2, 3, 24, 24))
    pred = decoder(EncoderOutput(tokens=tokens, hw=(3, 3)), masks)         # [2, 9, 8*8*3]
    # SimMIM's form: conv channels ordered (C, i, j) for PixelShuffle; ours (i, j, C)
    w = decoder.predictor.weight.view(8, 8, 3, 16).permute(2, 0, 1, 3).reshape(-1, 16, 1, 1)
    b = decoder.predictor.bias.view(8, 8, 3).permute(2, 0, 1).reshape(-1)
    conv = F.conv2d(tokens.transpose(1, 2).reshape(2, 16, 3, 3), w, b)
    assert torch.allclose(unpatchify(pred, 8, (3, 3)), F.pixel_shuffle(conv, 8), atol=1e-5)


def test_simmim_decoder__coarse_stride_predicts_each_tokens_units_as_pixel_shuffle():
    """stride 2 x unit (the UM-MAE paper's SimMIM: 16-px units from a stride-32 map):
    the units put back into an image are the 1x1 conv + PixelShuffle(stride) image."""
    torch.manual_seed(0)
    decoder = SimMIMDecoder(in_dims=16, unit_size=4, stride=8)
    tokens = torch.randn(2, 6, 16)                                    # 2x3 token map
    masks = BlockMasker(unit_size=4)(torch.zeros(2, 3, 16, 24))       # 4x6 units
    pred = decoder(EncoderOutput(tokens=tokens, hw=(2, 3)), masks)    # [2, 24, 4*4*3]
    assert pred.shape == (2, 24, 48)
    w = decoder.predictor.weight.view(8, 8, 3, 16).permute(2, 0, 1, 3).reshape(-1, 16, 1, 1)
    b = decoder.predictor.bias.view(8, 8, 3).permute(2, 0, 1).reshape(-1)
    conv = F.conv2d(tokens.transpose(1, 2).reshape(2, 16, 2, 3), w, b)
    assert torch.allclose(unpatchify(pred, 4, (4, 6)), F.pixel_shuffle(conv, 8), atol=1e-5)


def test_simmim_decoder__tokens_that_do_not_cover_the_unit_grid_are_refused():
    decoder = SimMIMDecoder(in_dims=16, unit_size=4, stride=8)
    masks = BlockMasker(unit_size=4)(torch.zeros(1, 3, 16, 16))       # 4x4 units
    with pytest.raises(ValueError, match='do not cover'):
        decoder(EncoderOutput(tokens=torch.randn(1, 16, 16), hw=(4, 4)), masks)


def tiny_simmim_swin():
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='MaskedImageModel',
        masker=dict(type='BlockMasker', ratio=0.6, unit_size=32),
        encoder=dict(type='MaskedSwin', arch=dict(embed_dims=16, depths=[1, 1, 1, 1],
                                                   num_heads=[1, 2, 2, 4]),
                     img_size=128, window_size=4, masking='mask_token'),
        decoder=dict(type='SimMIMDecoder'),
        target=dict(type='PixelTarget', patch_size=32, normalize=False),
        loss=dict(type='MaskedReconstructionLoss', criterion='l1')))
    model.init_weights()
    return model


def test_simmim_loss__l1_over_masked_pixels_only():
    model = tiny_simmim_swin()
    images = photo_tensor(128)
    torch.manual_seed(1)
    masks = model.masker(images)
    pred = model.decoder(model.encoder(images, masks), masks)
    loss = model.reconstruction_loss(pred, model.target(images), masks, images)
    pixel_mask = masks.mask.view(4, 1, 4, 4).float()
    pixel_mask = pixel_mask.repeat_interleave(32, 2).repeat_interleave(32, 3).expand(-1, 3, -1, -1)
    err = (unpatchify(pred, 32, (4, 4)) - images).abs()
    assert torch.allclose(loss, (err * pixel_mask).sum() / pixel_mask.sum(), atol=1e-5)


def test_simmim_swin__train_step_finite_loss_and_every_parameter_gets_a_gradient():
    model = tiny_simmim_swin()
    loss = model(photo_tensor(128), mode='loss')['loss']
    assert torch.isfinite(loss)
    loss.backward()
    assert not [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
