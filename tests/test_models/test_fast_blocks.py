"""The fused block forwards compute what the modules they replace compute: same
outputs and gradients (inputs and parameters) in float32, same parameter keys."""
import copy

import pytest
import torch
import torch.nn.functional as F
from mmdet.models.backbones.pvt import MixFFN, PVTEncoderLayer, PyramidVisionTransformer
from mmpretrain.models.utils.attention import MultiheadAttention, ShiftWindowMSA
from photos import photo_tensor

from mmmim.models.encoders import MaskedPVT
from mmmim.models.encoders.pvt import PooledReduction
from mmmim.models.fast_blocks import (
    PermutedShiftWindowMSA,
    UnbindQKVAttention,
    UnbindQKVWindowMSA,
    attention,
    use_fast_forward,
    window_order,
)
from mmmim.models.fast_pvt_blocks import LinearMixFFN, SDPASpatialReductionAttention
from mmmim.models.fast_pvt_blocks import use_fast_forward as use_fast_pvt_forward

TOL = dict(atol=1e-5, rtol=1e-5)


def photo_tokens(hw, dims, batch=2) -> torch.Tensor:
    """``[B, h*w, dims]`` tokens (8x8 without ``hw``) from real photographs: 4x4-pixel
    patches, projected by a fixed random map (requires grad)."""
    torch.manual_seed(1)
    images = photo_tensor(4 * (hw or (8, 8))[0])[:batch]
    patches = F.unfold(images, 4, stride=4).transpose(1, 2)           # [B, L, 48]
    return (patches @ torch.randn(48, dims) / 7).requires_grad_()


def outputs_and_grads(module, x, hw):
    x = x.detach().clone().requires_grad_()
    out = module(x, hw) if hw is not None else module(x)
    (out * torch.linspace(-1, 1, out.shape[-1])).square().sum().backward()
    return out, x.grad, {n: p.grad for n, p in module.named_parameters()}


def assert_same_computation(original, fast, hw, dims):
    x = photo_tokens(hw, dims)
    out0, gx0, gp0 = outputs_and_grads(original, x, hw)
    out1, gx1, gp1 = outputs_and_grads(fast, x, hw)
    torch.testing.assert_close(out1, out0, **TOL)
    torch.testing.assert_close(gx1, gx0, **TOL)
    assert gp1.keys() == gp0.keys()
    for name in gp0:
        torch.testing.assert_close(gp1[name], gp0[name], **TOL, msg=name)


def perturbed(module):
    """``module`` in eval mode with every parameter moved off its init (zeros / ones)."""
    torch.manual_seed(2)
    for p in module.parameters():
        p.data.add_(torch.randn_like(p) * 0.05)
    return module.eval()


@pytest.mark.parametrize('v_shortcut', [False, True])
def test_unbind_attention_matches_mmpretrain_attention(v_shortcut):
    torch.manual_seed(0)
    heads = 1 if v_shortcut else 2       # mmpretrain's v shortcut needs one head
    original = perturbed(MultiheadAttention(16, heads, v_shortcut=v_shortcut))
    fast = use_fast_forward(copy.deepcopy(original))
    assert type(fast) is UnbindQKVAttention
    assert_same_computation(original, fast, None, 16)


@pytest.mark.parametrize('hw, shift, pad_small_map', [
    ((8, 8), 0, False),
    ((8, 8), 2, False),
    ((4, 4), 2, False),     # one window: mmpretrain does not shift it
    ((4, 4), 2, True),      # ... unless small maps are padded
    ((6, 6), 2, False),     # needs padding: mmpretrain's own forward
])
def test_shift_window_attention_matches_mmpretrain(hw, shift, pad_small_map):
    torch.manual_seed(0)
    original = perturbed(ShiftWindowMSA(16, 2, window_size=4, shift_size=shift,
                                        pad_small_map=pad_small_map))
    fast = use_fast_forward(copy.deepcopy(original))
    assert type(fast) is PermutedShiftWindowMSA
    assert type(fast.w_msa) is UnbindQKVWindowMSA
    assert fast.state_dict().keys() == original.state_dict().keys()
    assert_same_computation(original, fast, hw, 16)


def test_shift_window_attention_permutes_whole_windows_without_pad_or_roll(monkeypatch):
    fast = use_fast_forward(perturbed(ShiftWindowMSA(16, 2, window_size=4, shift_size=2)))
    for name in ('pad', 'roll'):
        monkeypatch.setattr(torch.nn.functional if name == 'pad' else torch, name,
                            lambda *a, **kw: pytest.fail('padded or rolled'))
    outputs_and_grads(fast, photo_tokens((8, 8), 16), (8, 8))


@pytest.mark.parametrize('shift', [0, 1, 3])
def test_window_order_is_roll_then_window_partition(shift):
    h, w, window = 8, 12, 4
    tokens = torch.arange(h * w).view(1, h, w, 1)
    rolled = torch.roll(tokens, shifts=(-shift, -shift), dims=(1, 2))
    windows = ShiftWindowMSA.window_partition(rolled, window).reshape(-1)
    order = window_order((h, w), window, shift)
    assert torch.equal(order, windows)
    assert torch.equal(order.sort().values, torch.arange(h * w))


@pytest.mark.parametrize('shift', [0, 2])
def test_window_attention__bf16_autocast_matches_fp32_to_bf16_precision(shift):
    torch.manual_seed(0)
    fast = use_fast_forward(perturbed(ShiftWindowMSA(16, 2, window_size=4, shift_size=shift)))
    x = photo_tokens((8, 8), 16)
    reference = outputs_and_grads(fast, x, (8, 8))
    fast.zero_grad()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        half = outputs_and_grads(fast, x, (8, 8))
    assert half[0].dtype == torch.bfloat16
    pairs = [(half[0].float(), reference[0]), (half[1], reference[1])]
    pairs += [(half[2][n], reference[2][n]) for n in reference[2]]   # the bias table too
    for got, want in pairs:
        assert (got - want).abs().max() < 0.03 * want.abs().max(), (got - want).abs().max()


def pvt_layer(dims, heads, sr_ratio, pool=None):
    torch.manual_seed(0)
    layer = PVTEncoderLayer(dims, heads, 4 * dims, sr_ratio=sr_ratio)
    if pool is not None:
        layer.attn.sr = PooledReduction(dims, sr_ratio)
        layer.attn.sr.pool = pool
    return perturbed(layer)


@pytest.mark.parametrize('sr_ratio, pool', [
    (1, None),      # stage 4: keys are the queries
    (4, 4),         # MaskedPVT's pooled reduction on the full grid
    (2, 1),         # ratio-2 stage on the compact grid: 1x1 conv + LN, no pooling
    (2, None),      # mmdet's own strided conv
])
def test_sdpa_pvt_layer_matches_mmdet_layer(sr_ratio, pool):
    original = pvt_layer(16, 2, sr_ratio, pool)
    fast = use_fast_pvt_forward(copy.deepcopy(original))
    assert type(fast.attn) is SDPASpatialReductionAttention
    assert type(fast.ffn) is LinearMixFFN
    assert fast.state_dict().keys() == original.state_dict().keys()
    assert_same_computation(original, fast, (8, 8), 16)


def saved_numels(fn, x):
    """Sizes of the tensors autograd keeps for the backward pass of ``fn(x)``."""
    sizes = []

    def pack(t):
        sizes.append(t.numel())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(x)
    return sizes


@pytest.mark.parametrize('hw, pool', [((8, 8), 4), ((8, 8), 1), ((6, 10), 2), ((6, 9), 2)])
def test_pooled_reduction__on_tokens_equals_forward_on_the_map_and_keeps_no_input(hw, pool):
    torch.manual_seed(0)
    sr = PooledReduction(16, pool)
    tokens = photo_tokens((10, 10), 16)[:, :hw[0] * hw[1]].detach().requires_grad_()
    on_map = sr(tokens.transpose(1, 2).unflatten(2, hw)).flatten(2).transpose(1, 2)
    on_tokens = sr.reduce_tokens(tokens, hw)
    torch.testing.assert_close(on_tokens, on_map, **TOL)
    grads = [torch.autograd.grad(out.square().sum(), tokens)[0] for out in (on_map, on_tokens)]
    torch.testing.assert_close(grads[1], grads[0], **TOL)
    if pool > 1 and not (hw[0] % pool or hw[1] % pool):
        assert max(saved_numels(lambda x: sr.reduce_tokens(x, hw), tokens)) < tokens.numel()
        assert tokens.numel() in saved_numels(                          # avg_pool2d's input
            lambda x: sr(x.transpose(1, 2).unflatten(2, hw)), tokens)


def test_conv_ffn_keeps_its_forward():
    ffn = MixFFN(8, 32, use_conv=True)
    use_fast_pvt_forward(ffn)
    assert type(ffn) is MixFFN


def test_masked_pvt_uses_fast_blocks_and_mmdet_keys():
    model = MaskedPVT(pretrain_img_size=64, embed_dims=8, num_layers=[1, 1, 1, 1],
                      num_heads=[1, 2, 2, 4])
    kinds = {type(m) for m in model.modules()}
    assert {SDPASpatialReductionAttention, LinearMixFFN} <= kinds
    reference = PyramidVisionTransformer(pretrain_img_size=64, embed_dims=8,
                                         num_layers=[1, 1, 1, 1], num_heads=[1, 2, 2, 4])
    extra = {'norm.weight', 'norm.bias'}
    assert set(model.state_dict()) - extra == set(reference.state_dict())


def test_masked_pvt_plain_forward_matches_mmdet_after_conversion():
    """The plain (no-mask) forward with the fused blocks gives mmdet's PVT maps once
    the pooled reductions are converted to mmdet's strided convs."""
    from mmmim.converters.pvt import pooled_sr_to_conv
    arch = dict(pretrain_img_size=64, embed_dims=8, num_layers=[1, 1, 1, 1],
                num_heads=[1, 2, 2, 4])
    torch.manual_seed(0)
    model = MaskedPVT(**arch).eval()
    model.init_weights()
    reference = PyramidVisionTransformer(**arch).eval()
    state = {k: v for k, v in model.state_dict().items() if not k.startswith('norm.')}
    reference.load_state_dict(pooled_sr_to_conv(state, (8, 4, 2, 1)))
    images = photo_tensor(64)[:2]
    with torch.no_grad():
        for ours, theirs in zip(model(images), reference(images)):
            torch.testing.assert_close(ours, theirs, **TOL)


def qkv_from_photos(keys: int, dtype=torch.float32):
    """q, k, v ``[2, 2, keys, 16]`` from real photographs, leaf tensors at ``dtype``."""
    side = int(keys**0.5)
    tokens = photo_tokens((side, side), 96).detach()                  # [2, keys, 96]
    q, k, v = tokens.view(2, keys, 3, 2, 16).permute(2, 0, 3, 1, 4)
    return [t.to(dtype).contiguous().requires_grad_() for t in (q, k, v)]


def attention_and_grads(fn, q, k, v):
    out = fn(q, k, v)
    (out.float() * torch.linspace(-1, 1, out.shape[-1])).square().sum().backward()
    return out.float(), [t.grad.float() for t in (q, k, v)]


@pytest.mark.parametrize('keys', [64, 256])
def test_attention__bf16_on_cpu_matches_fp32_attention_to_bf16_precision(keys):
    reference = attention_and_grads(F.scaled_dot_product_attention, *qkv_from_photos(keys))
    half = attention_and_grads(attention, *qkv_from_photos(keys, torch.bfloat16))
    for got, want in zip([half[0], *half[1]], [reference[0], *reference[1]]):
        scale = want.abs().max()
        assert (got - want).abs().max() < 0.02 * scale, (keys, (got - want).abs().max(), scale)


def test_attention__explicit_only_for_short_half_precision_inputs(monkeypatch):
    calls = []
    monkeypatch.setattr(F, 'scaled_dot_product_attention',
                        lambda *a, **kw: calls.append(a[1].shape[-2]) or a[0])
    for keys, dtype in ((64, torch.float32), (64, torch.bfloat16), (256, torch.bfloat16)):
        attention(*qkv_from_photos(keys, dtype))
    assert calls == [64, 256]  # fp32: the fused kernel; bf16: explicit up to 128 keys
