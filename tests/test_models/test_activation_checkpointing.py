"""``with_cp=True`` (activation checkpointing) on every encoder and decoder changes
memory, never what the model computes: same loss and same gradients."""
import copy

import pytest
import torch
from mmengine.registry import init_default_scope
from photos import photo_tensor
from tiny import TINY_VIT

from mmmim.registry import MODELS

init_default_scope('mmmim')

TINY_SWIN = dict(arch=dict(embed_dims=16, depths=[1, 1, 2, 1], num_heads=[1, 2, 2, 4]),
                 img_size=128, window_size=4)
TINY_PVT = dict(embed_dims=8, num_layers=[1, 1, 2, 1], num_heads=[1, 2, 2, 4],
                pretrain_img_size=128)
UMMAE = dict(masker=dict(type='UniformMasker', unit_size=16, secondary_ratio=0.25),
             decoder=dict(type='UMMAEDecoder', dims=32, depth=2, num_heads=2),
             target=dict(type='PixelTarget', patch_size=16))
MODELS_WITH_CP = {
    'mae_vit': (64, dict(
        masker=dict(type='RandomMasker', ratio=0.75, unit_size=16),
        encoder=dict(type='MaskedViT', arch=TINY_VIT, img_size=64, patch_size=16),
        decoder=dict(type='MAEDecoder', dims=32, depth=2, num_heads=2),
        target=dict(type='PixelTarget', patch_size=16))),
    'ummae_swin': (128, dict(UMMAE, encoder=dict(type='MaskedSwin', masking='compact',
                                                 secondary_token=True, **TINY_SWIN))),
    'ummae_pvt': (128, dict(UMMAE, encoder=dict(type='MaskedPVT', masking='compact',
                                                secondary_token=True, **TINY_PVT))),
}


def build(cfg: dict, with_cp: bool):
    cfg = copy.deepcopy(cfg)
    cfg['encoder']['with_cp'] = with_cp
    cfg['decoder']['with_cp'] = with_cp
    torch.manual_seed(0)
    model = MODELS.build(dict(type='MaskedImageModel', **cfg))
    model.init_weights()
    return model.train()


def loss_and_grads(model, images):
    torch.manual_seed(1)  # the same masks for both models
    loss = model(images, mode='loss')['loss']
    loss.backward()
    return loss.detach(), {n: p.grad for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize('name', sorted(MODELS_WITH_CP))
def test_with_cp__same_loss_and_gradients_as_without(name):
    size, cfg = MODELS_WITH_CP[name]
    images = photo_tensor(size)
    plain_loss, plain_grads = loss_and_grads(build(cfg, False), images)
    cp_model = build(cfg, True)
    checkpointed = [m for m in cp_model.modules() if getattr(m, 'with_cp', False)]
    assert len(checkpointed) >= 2, 'with_cp did not reach the encoder and the decoder'
    cp_loss, cp_grads = loss_and_grads(cp_model, images)
    assert torch.allclose(plain_loss, cp_loss, atol=1e-6)
    assert plain_grads.keys() == cp_grads.keys()
    for key, grad in plain_grads.items():
        assert torch.allclose(grad, cp_grads[key], atol=1e-6, rtol=1e-4), key


def test_with_cp__recomputes_blocks_in_backward():
    """Checkpointing is really on: a checkpointed block runs its forward twice."""
    size, cfg = MODELS_WITH_CP['mae_vit']
    model = build(cfg, True)
    calls = []
    model.encoder.layers[0].register_forward_pre_hook(lambda *_: calls.append(1))
    loss_and_grads(model, photo_tensor(size))
    assert len(calls) == 2
