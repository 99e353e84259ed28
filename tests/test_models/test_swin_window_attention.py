"""Swin window attention's CUDA branch (``F.scaled_dot_product_attention`` with the
relative position bias plus the shift mask as its mask), run here on the CPU by
forcing :func:`fused_window_attention_on`, computes what the CPU's explicit product
computes; the CPU keeps the explicit one. The shifted-window layouts are built once
per map and equal fresh ones."""
import copy
import types

import pytest
import torch
import torch.nn.functional as F
from mmpretrain.models.utils.attention import ShiftWindowMSA
from photos import photo_tensor
from test_fast_blocks import TOL, outputs_and_grads, perturbed, photo_tokens
from test_pyramid_encoders import TINY_SWIN, tiny_swin, uniform_masks
from torch.nn.attention import SDPBackend, sdpa_kernel

from mmmim.models import fast_blocks
from mmmim.models.fast_blocks import (
    fused_window_attention_on,
    shifted_window_layout,
    use_fast_forward,
)
from mmmim.models.maskers import BlockMasker


def window_block(shift=2, pad_small_map=False, **kwargs):
    torch.manual_seed(0)
    return use_fast_forward(perturbed(ShiftWindowMSA(16, 2, window_size=4, shift_size=shift,
                                                     pad_small_map=pad_small_map, **kwargs)))


def sdpa_calls(monkeypatch) -> list:
    """Records the shapes and keywords of every ``F.scaled_dot_product_attention``
    call (which still runs)."""
    calls, real = [], F.scaled_dot_product_attention

    def spy(q, k, v, **kwargs):
        calls.append(dict(q=tuple(q.shape), mask=tuple(kwargs['attn_mask'].shape),
                          mask_dtype=kwargs['attn_mask'].dtype, q_dtype=q.dtype,
                          dropout_p=kwargs['dropout_p'], scale=kwargs['scale']))
        return real(q, k, v, **kwargs)

    monkeypatch.setattr(F, 'scaled_dot_product_attention', spy)
    return calls


def force_fused(monkeypatch):
    monkeypatch.setattr(fast_blocks, 'fused_window_attention_on', lambda x: True)


def test_fused_window_attention_on__cuda_only():
    assert fused_window_attention_on(types.SimpleNamespace(device=torch.device('cuda', 0)))
    assert not fused_window_attention_on(torch.zeros(1))
    assert not fused_window_attention_on(torch.zeros(1, dtype=torch.bfloat16))


@pytest.mark.parametrize('hw, shift, pad_small_map, q_shape, mask_shape', [
    # one bias for every window: q, k, v keep their [B * windows, h, N, d] layout
    ((8, 8), 0, False, (8, 2, 16, 8), (1, 2, 16, 16)),
    # bias + shift mask per window: [B, windows * h, N, d] and [1, windows * h, N, N]
    ((8, 8), 2, False, (2, 8, 16, 8), (1, 8, 16, 16)),
    ((4, 4), 2, True, (2, 2, 16, 8), (1, 2, 16, 16)),       # one window, shifted
    ((6, 6), 2, False, (2, 8, 16, 8), (1, 8, 16, 16)),      # padded: mmpretrain's forward
])
def test_fused_branch__same_outputs_and_gradients_as_explicit(
        monkeypatch, hw, shift, pad_small_map, q_shape, mask_shape):
    block = window_block(shift, pad_small_map)
    x = photo_tokens(hw, 16)
    calls = sdpa_calls(monkeypatch)
    explicit = outputs_and_grads(block, x, hw)
    assert calls == []                               # the CPU default: explicit
    block.zero_grad()
    force_fused(monkeypatch)
    with sdpa_kernel(SDPBackend.MATH):
        fused = outputs_and_grads(block, x, hw)
    torch.testing.assert_close(fused[0], explicit[0], **TOL)
    torch.testing.assert_close(fused[1], explicit[1], **TOL)
    assert 'w_msa.relative_position_bias_table' in explicit[2]
    for name, grad in explicit[2].items():           # qkv, proj and the bias table
        torch.testing.assert_close(fused[2][name], grad, **TOL, msg=name)
    assert calls == [dict(q=q_shape, mask=mask_shape, mask_dtype=torch.float32,
                          q_dtype=torch.float32, dropout_p=0., scale=block.w_msa.scale)]


@pytest.mark.parametrize('fused', [False, True])
def test_window_attention__default_branch_explicit_in_bf16_too_and_fused_casts_the_mask(
        monkeypatch, fused):
    block = window_block()
    calls = sdpa_calls(monkeypatch)
    if fused:
        force_fused(monkeypatch)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = block(photo_tokens((8, 8), 16), (8, 8))
    assert out.dtype == torch.bfloat16
    assert [(c['q_dtype'], c['mask_dtype']) for c in calls] == [(torch.bfloat16,) * 2] * fused


def test_fused_branch__drops_attention_weights_at_the_modules_rate_in_training_only(
        monkeypatch):
    """SDPA drops the softmax weights before the product with v, as ``attn_drop``
    does in the explicit branch (other draws: equal in distribution, not in values)."""
    block = window_block(attn_drop=0.25)
    calls = sdpa_calls(monkeypatch)
    force_fused(monkeypatch)
    x = photo_tokens((8, 8), 16)
    block(x, (8, 8))
    block.train()
    block(x, (8, 8))
    assert [c['dropout_p'] for c in calls] == [0., 0.25]


@pytest.mark.parametrize('masking', ['compact', 'mask_token', None])
def test_masked_swin__every_block_takes_the_fused_branch_with_the_same_tokens(
        monkeypatch, masking):
    """UM-MAE's compact grid, SimMIM's / LocalMIM's mask tokens and the plain
    backbone all reach :class:`UnbindQKVWindowMSA` in every block."""
    encoder = tiny_swin(masking=masking or 'compact')
    images = photo_tensor(128)
    torch.manual_seed(0)
    masks = (uniform_masks(images) if masking == 'compact' else
             BlockMasker(ratio=0.6, unit_size=32)(images) if masking else None)

    def run():
        out = encoder(images, masks)
        return out.tokens if masks is not None else out[-1]

    explicit = run()
    calls = sdpa_calls(monkeypatch)
    force_fused(monkeypatch)
    with sdpa_kernel(SDPBackend.MATH):
        fused = run()
    torch.testing.assert_close(fused, explicit, **TOL)
    assert len(calls) == sum(TINY_SWIN['depths'])


def test_shifted_window_layout__built_once_per_map_kept_out_of_the_state_dict(monkeypatch):
    block = window_block()
    keys = set(block.state_dict())
    built = []
    monkeypatch.setattr(fast_blocks, 'shifted_window_layout',
                        lambda *a: built.append(a) or shifted_window_layout(*a))
    x = photo_tokens((8, 8), 16)
    outs = [block(x, (8, 8)), block(x, (8, 8))]
    first = block.window_layout((8, 8), 4, 2, x.device)
    assert len(built) == 1
    block(photo_tokens((12, 12), 16)[:, :96], (8, 12))
    assert len(built) == 2
    assert all(a is b for a, b in zip(block.window_layout((8, 8), 4, 2, x.device), first))
    for cached, fresh in zip(first, shifted_window_layout((8, 8), 4, 2)):
        assert torch.equal(cached, fresh)
    assert set(block.state_dict()) == keys
    copy.deepcopy(block).load_state_dict(block.state_dict())
    monkeypatch.setattr(block, 'window_layout', lambda *a: shifted_window_layout(*a))
    assert torch.equal(block(x, (8, 8)), outs[0]) and torch.equal(outs[1], outs[0])


def test_shifted_window_layout__kept_at_most_max_layouts(monkeypatch):
    block = window_block()
    monkeypatch.setattr(block, 'MAX_LAYOUTS', 2)
    for side in (8, 12, 16):
        block.window_layout((side, side), 4, 2, torch.device('cpu'))
    assert len(block._window_layouts) <= 2


def test_shifted_window_layout__made_in_inference_mode_serves_training():
    block = window_block()
    x = photo_tokens((8, 8), 16)
    with torch.inference_mode():
        block(x.detach(), (8, 8))
    outputs_and_grads(block, x, (8, 8))              # saves the cached inverse for backward
