"""MaskedViT embeds only the visible patches (a Linear on their pixels) when its
patch embedding is a plain stride-p conv; the tokens and every gradient equal
those of the conv over every patch followed by the gather of the visible rows."""
import copy
import dataclasses

import pytest
import torch
from photos import photo_tensor
from test_models.tiny import TINY_VIT

from mmmim.models.encoders import MaskedViT
from mmmim.models.maskers import RandomMasker, UniformMasker


def tiny_vit(**kwargs):
    torch.manual_seed(0)
    vit = MaskedViT(arch=TINY_VIT, img_size=64, patch_size=8, secondary_token=True, **kwargs)
    vit.init_weights()
    for p in vit.parameters():                      # nonzero biases, tokens, positions
        p.data.add_(0.02 * torch.randn_like(p))
    return vit


def tokens_and_grads(vit, images, masks):
    vit.zero_grad()
    out = vit(images, masks).tokens
    (out * torch.linspace(-1, 1, out.shape[-1])).square().sum().backward()
    return out, {n: p.grad for n, p in vit.named_parameters() if p.grad is not None}


def draw(kind, images):
    torch.manual_seed(1)
    if kind == 'uniform_secondary':
        return UniformMasker(unit_size=16, secondary_ratio=0.25)(images)
    masks = RandomMasker(ratio=0.75, unit_size=16 if kind != 'units_of_patches' else 8)(images)
    return dataclasses.replace(masks, num_masked=None) if kind == 'count_unknown' else masks


@pytest.mark.parametrize('kind', ['random', 'units_of_patches', 'count_unknown',
                                  'uniform_secondary'])
@pytest.mark.parametrize('fixed_pos_embed', [True, False])
def test_visible_patch_embedding__equals_conv_over_every_patch_then_gather(kind,
                                                                           fixed_pos_embed):
    images = photo_tensor(64)
    masks = draw(kind, images)
    vit = tiny_vit(fixed_pos_embed=fixed_pos_embed)
    assert vit.embeds_as_linear(images)
    by_conv = copy.deepcopy(vit)
    by_conv.embeds_as_linear = lambda x: False
    calls = []
    by_conv.patch_embed.register_forward_hook(lambda m, a, out: calls.append(out[0].shape))
    got, got_grads = tokens_and_grads(vit, images, masks)
    want, want_grads = tokens_and_grads(by_conv, images, masks)
    assert calls == [(4, 64, 32)]                   # the reference embedded every patch
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    assert got_grads.keys() == want_grads.keys()
    assert 'patch_embed.projection.weight' in got_grads
    for name in want_grads:
        torch.testing.assert_close(got_grads[name], want_grads[name], rtol=1e-5, atol=1e-5,
                                   msg=name)


def test_visible_patch_embedding__not_taken_for_partial_patches():
    vit = tiny_vit()
    assert not vit.embeds_as_linear(torch.zeros(1, 3, 60, 64))
