"""Faster forwards of the pyramid encoders' blocks, same parameters and outputs.

Each class here subclasses one block module of mmdet / mmpretrain and overrides only
``forward``: :func:`use_fast_forward` switches an already built module to it (its
parameters, buffers and so its checkpoint keys stay the module's own), and the
tests compare every one with the original's outputs and gradients.

- :class:`~.fast_pvt_blocks.SDPASpatialReductionAttention` (in :mod:`.fast_pvt_blocks`,
  whose ``use_fast_forward`` adds the PVT blocks to this module's): mmdet's PVT
  attention. mmdet routes it through mmcv's ``MultiheadAttention`` to
  ``nn.MultiheadAttention`` in sequence-first layout with ``need_weights=True``: a
  materialized attention matrix, head-averaged weights nobody reads, and layout copies
  around every projection (the backward of its packed-projection split fills and copies
  whole gradients). Here: batch-first projections with the module's own
  ``in_proj_weight`` slices and ``F.scaled_dot_product_attention``; the spatial
  reduction gets the token map as a channels-last view (no copy).
- :class:`~.fast_pvt_blocks.LinearMixFFN`: mmdet's PVT v1 FFN is two 1x1 convs on
  an NCHW copy of the tokens; here the same weights act as Linears on the ``[B, L, C]`` tokens.
- :class:`UnbindQKVAttention` (mmpretrain's ViT / decoder attention, already on
  ``F.scaled_dot_product_attention``) and :class:`UnbindQKVWindowMSA` (Swin's window
  attention): q, k and v split from the packed projection by one ``unbind``, whose
  backward stacks the three gradients, instead of three indexings, whose backward
  fills a zero tensor of the whole projection for each and adds them up. On CUDA
  the window attention runs ``F.scaled_dot_product_attention`` with the relative
  position bias plus the shift mask as its additive mask; the CPU keeps the explicit
  product (:func:`fused_window_attention_on`).
- :class:`PermutedShiftWindowMSA`: mmpretrain's ``ShiftWindowMSA`` pads (a copy even
  when there is nothing to pad), rolls (one copy per axis), partitions into windows
  (a copy) and reverses all three after the attention, each again in the backward;
  here the cyclic shift and the partition are one precomputed token permutation,
  one gather each way, whose backward is the gather by the inverse permutation,
  built once per map size and kept on the block.
"""
import torch
import torch.nn.functional as F
from mmcv.cnn.bricks.drop import DropPath
from mmpretrain.models.utils.attention import MultiheadAttention, ShiftWindowMSA, WindowMSA
from torch import nn

from .utils import gather_rows

__all__ = ['attention', 'explicit_attention',
           'UnbindQKVAttention', 'encoder_layer_on_rows', 'UnbindQKVWindowMSA',
           'fused_window_attention_on', 'PermutedShiftWindowMSA', 'window_order',
           'shifted_window_layout', 'conv1x1_on_map', 'use_fast_forward']


HALF_DTYPES = (torch.bfloat16, torch.float16)
#: above this many keys the explicit product keeps a large ``[B, h, N, M]`` weight
#: tensor for the backward pass (MAE ViT-B's decoder: +200 MB peak RSS at batch 16,
#: more than the official MAE's margin) and the fused kernel stays
EXPLICIT_MAX_KEYS = 128


def is_cpu_half(x: torch.Tensor) -> bool:
    """A half-precision tensor on the CPU (what bf16 autocast gives there)."""
    return x.device.type == 'cpu' and x.dtype in HALF_DTYPES


def softmax_as_is(scores: torch.Tensor) -> torch.Tensor:
    """Softmax over the last dim at the scores' own precision: outside CPU autocast,
    which would return it in fp32 (for half-precision scores the kernel computes in
    fp32 and rounds the weights back, and only that half-precision result is kept
    for the backward pass)."""
    with torch.autocast('cpu', enabled=False):
        return scores.softmax(-1)


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
              dropout_p: float = 0.) -> torch.Tensor:
    """``softmax(q k^T / sqrt(d)) v``: q ``[B, h, N, d]``, k and v ``[B, h, M, d]``
    -> ``[B, h, N, d]``.

    ``F.scaled_dot_product_attention``, except for half-precision inputs on the CPU
    (bf16 autocast) with at most :data:`EXPLICIT_MAX_KEYS` keys: there torch's fused
    CPU kernel is slower than the explicit product (1.2x for ViT-B's encoder
    attention, 1.0-2.0x for PVT-S's stages, forward and backward with the q/k/v
    Linears: ``tools/experiments/benchmark_attention.py``). The scores and the
    weighted sum run as half-precision matmuls; the softmax takes and gives the
    half-precision scores (computed in fp32 inside the kernel, as autocast's fp32
    softmax rounded back), so only a half-precision copy of the weights is kept for
    the backward pass."""
    if not is_cpu_half(q) or k.shape[-2] > EXPLICIT_MAX_KEYS:
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p)
    return explicit_attention(q, k, v, dropout_p)


def explicit_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                       dropout_p: float = 0.) -> torch.Tensor:
    """:func:`attention` as matmuls and a softmax at the inputs' precision."""
    scores = (q * q.shape[-1]**-0.5) @ k.transpose(-2, -1)          # [B, h, N, M]
    probs = softmax_as_is(scores)
    if dropout_p:
        probs = F.dropout(probs, dropout_p)
    return probs @ v


def conv1x1_as_linear(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """A 1x1 conv's weights applied as a Linear: ``x [..., C_in] -> [..., C_out]``."""
    return F.linear(x, conv.weight.flatten(1), conv.bias)


def conv_on_tokens(conv: nn.Module, x: torch.Tensor, hw_shape) -> torch.Tensor:
    """A map module applied to tokens: x ``[B, H * W, C]`` (row-major ``H x W``) seen
    as a channels-last ``[B, C, H, W]`` view (no copy) -> ``conv``'s output map back
    as tokens ``[B, H' * W', C']``."""
    return conv(x.transpose(1, 2).unflatten(2, tuple(hw_shape))).flatten(2).transpose(1, 2)


def packed_linear(x: torch.Tensor, weight: torch.Tensor, bias, part: slice) -> torch.Tensor:
    """The output rows ``part`` of a packed projection (``weight [P, C_in]``, ``bias
    [P]`` or None) applied to x ``[..., C_in]``: e.g. only the q or the k/v part of a
    q/k/v projection."""
    return F.linear(x, weight[part], None if bias is None else bias[part])


def conv1x1_on_map(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """A 1x1 conv as a Linear over the channels of a ``[B, C, H, W]`` map; the
    result is channels-last (no copy when ``x`` is, as the tokens' view is)."""
    return conv1x1_as_linear(x.permute(0, 2, 3, 1), conv).permute(0, 3, 1, 2)


def split_heads(packed: torch.Tensor, heads: int, parts: int = 3):
    """Packed projection ``[B, N, parts * C]`` -> ``parts`` views ``[B, heads, N, C /
    heads]``: q, k, v (3), k, v (2) or q alone (1)."""
    b, n, _ = packed.shape
    return packed.reshape(b, n, parts, heads, -1).permute(2, 0, 3, 1, 4).unbind(0)


class UnbindQKVAttention(MultiheadAttention):
    """mmpretrain's ``MultiheadAttention`` (ViT blocks, MAE decoder blocks) with q, k,
    v split by :func:`split_heads` (same parameters ``qkv``, ``proj``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x ``[B, N, C_in]`` -> ``[B, N, C]``."""
        q, k, v = split_heads(self.qkv(x), self.num_heads)
        dropout = self.attn_drop if self.training else 0.
        out = self.project(attention(q, k, v, dropout_p=dropout))
        return v.squeeze(1) + out if self.v_shortcut else out

    def project(self, out: torch.Tensor) -> torch.Tensor:
        """Attention output ``[B, h, N, d]`` -> heads merged, projected, dropped
        ``[B, N, C]``."""
        b, _, n, _ = out.shape
        out = self.proj(out.transpose(1, 2).reshape(b, n, self.embed_dims))
        return self.out_drop(self.gamma1(self.proj_drop(out)))

    def forward_rows(self, x: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """The outputs of :meth:`forward` at ``rows`` only: x ``[B, N, C_in]``, rows
        long ``[B, R]`` -> ``[B, R, C]``. Keys and values come from every row; the
        queries, the attention and the output projection only from ``rows``."""
        if self.v_shortcut:
            raise ValueError('forward_rows does not take the v shortcut')
        weight, bias, c, heads = self.qkv.weight, self.qkv.bias, self.embed_dims, self.num_heads
        k, v = split_heads(packed_linear(x, weight, bias, slice(c, None)), heads, 2)
        q, = split_heads(packed_linear(gather_rows(x, rows), weight, bias, slice(None, c)),
                         heads, 1)                                      # [B, h, R, d]
        dropout = self.attn_drop if self.training else 0.
        return self.project(attention(q, k, v, dropout_p=dropout))


def encoder_layer_on_rows(layer: nn.Module, x: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """mmpretrain's ``TransformerEncoderLayer`` (attention switched to
    :class:`UnbindQKVAttention`) computed for ``rows`` only: x ``[B, N, C]``, rows
    long ``[B, R]`` -> ``layer(x)`` at those rows, ``[B, R, C]``. Every row is still
    a key and a value; the other rows' queries, MLP and output are skipped."""
    identity = gather_rows(x, rows)
    x = identity + layer.attn.forward_rows(layer.ln1(x), rows)
    return layer.ffn(layer.ln2(x), identity=x)


def fused_window_attention_on(x: torch.Tensor) -> bool:
    """Whether :class:`UnbindQKVWindowMSA` gives tokens ``x`` to
    ``F.scaled_dot_product_attention``: on CUDA, where the memory-efficient and cuDNN
    kernels take the bias as an additive mask with a gradient and keep no
    ``[B * windows, h, N, N]`` weights for the backward pass. The CPU keeps the
    explicit product: there SDPA with a learnable mask runs torch's slower math path
    (docs/benchmark_log.md)."""
    return x.device.type == 'cuda'


class UnbindQKVWindowMSA(WindowMSA):
    """mmpretrain's Swin ``WindowMSA`` with q, k, v split by :func:`split_heads` (same
    parameters and buffers). The attention is fused on CUDA and explicit on the CPU
    (:func:`fused_window_attention_on`)."""

    def forward(self, x: torch.Tensor, mask=None) -> torch.Tensor:
        """x ``[B * windows, N, C]``; mask ``[windows, N, N]`` (0 / -100) or None."""
        b, n, c = x.shape
        q, k, v = split_heads(self.qkv(x), self.num_heads)              # [B * nW, h, N, d]
        attend = self.fused_attention if fused_window_attention_on(x) else self.explicit_attention
        out = attend(q, k, v, mask).transpose(1, 2).reshape(b, n, c)
        return self.proj_drop(self.proj(out))

    def relative_bias(self) -> torch.Tensor:
        """The relative position bias ``[h, N, N]`` (the table's dtype)."""
        n = self.relative_position_index.shape[0]
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        return bias.view(n, n, -1).permute(2, 0, 1)

    def explicit_attention(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                           mask=None) -> torch.Tensor:
        """q, k, v ``[B * nW, h, N, d]``, mask ``[nW, N, N]`` or None -> ``[B * nW, h, N,
        d]`` as matmuls, bias and mask adds and a softmax.

        In half precision on the CPU (bf16 autocast) the bias and the shift mask are
        added at the scores' precision and the softmax runs there (computed in fp32
        inside the kernel), instead of promoting the ``[B * windows, h, N, N]`` scores
        to fp32 and casting the weights back for the product with v: those copies
        were a fifth of a SimMIM Swin-T bf16 step (docs/benchmark_log.md)."""
        b, _, n, _ = q.shape
        bias = self.relative_bias()
        attn = (q * self.scale) @ k.transpose(-2, -1)
        half = is_cpu_half(attn)
        attn = attn + (bias.to(attn.dtype) if half else bias)
        if mask is not None:
            windows = mask.shape[0]
            attn = attn.view(b // windows, windows, self.num_heads, n, n) + (
                mask.to(attn.dtype) if half else mask)[:, None]
            attn = attn.view(b, self.num_heads, n, n)
        attn = self.attn_drop(softmax_as_is(attn) if half else self.softmax(attn))
        return attn @ v

    def fused_attention(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                        mask=None) -> torch.Tensor:
        """:meth:`explicit_attention` by ``F.scaled_dot_product_attention``: the bias
        plus the shift mask as one additive mask ``[1, nW * h, N, N]`` (fp32 sum, cast to
        q's dtype), shared by the images of q, k, v regrouped as ``[B, nW * h, N, d]``
        (a view when there is no mask: nW = 1). Dropout hits the same weights, with
        other draws."""
        bias = self.relative_bias()[None]                                # [1, h, N, N]
        if mask is not None:
            bias = bias + mask[:, None]                                  # [nW, h, N, N]
        windows, heads, n, _ = bias.shape
        grouped = [t.reshape(-1, windows * heads, n, t.shape[-1]) for t in (q, k, v)]
        dropout = self.attn_drop.p if self.training else 0.
        out = F.scaled_dot_product_attention(
            *grouped, attn_mask=bias.reshape(1, windows * heads, n, n).to(q.dtype),
            dropout_p=dropout, scale=self.scale)                         # [B, nW * h, N, d]
        return out.reshape(q.shape)


def window_order(hw, window: int, shift: int, device=None) -> torch.Tensor:
    """``[H * W]`` token indices that put a row-major ``H x W`` map, cyclically
    shifted by ``-shift`` on both axes, into windows: window by window (row-major),
    row-major inside each window. ``tokens[:, order]`` is what mmpretrain's
    ``torch.roll`` + ``window_partition`` give, flattened."""
    h, w = hw
    index = torch.arange(h * w, device=device).view(h, w)
    if shift:
        index = index.roll((-shift, -shift), dims=(0, 1))
    return index.view(h // window, window, w // window, window).permute(0, 2, 1, 3).reshape(-1)


def shifted_window_layout(hw, window: int, shift: int, device=None):
    """``(order, inverse, mask)`` of a ``H x W`` map cut into whole windows:
    :func:`window_order` ``[H * W]``, its inverse permutation ``[H * W]`` and
    mmpretrain's shift mask ``[windows, N, N]`` (0 / -100, fp32; None without shift)."""
    order = window_order(hw, window, shift, device)
    mask = ShiftWindowMSA.get_attn_mask(hw, window_size=window, shift_size=shift, device=device)
    return order, torch.argsort(order), mask


class _PermuteTokens(torch.autograd.Function):
    """``x[:, order]`` for a permutation ``order``; its backward is the gather by the
    inverse permutation (no zero fill, no scatter-add)."""

    @staticmethod
    def forward(ctx, x, order, inverse):
        ctx.save_for_backward(inverse)
        return x.index_select(1, order)

    @staticmethod
    def backward(ctx, grad):
        inverse, = ctx.saved_tensors
        return grad.index_select(1, inverse), None, None


class PermutedShiftWindowMSA(ShiftWindowMSA):
    """mmpretrain's ``ShiftWindowMSA`` (same parameters: ``w_msa``) with the cyclic
    shift and the window partition, and their reverses, as one token permutation
    each way (:func:`window_order`). Maps that need padding to whole windows take
    mmpretrain's own forward."""

    #: layouts kept per block: a run sees a few map sizes (full / compact grid, eval)
    MAX_LAYOUTS = 8

    def forward(self, query: torch.Tensor, hw_shape) -> torch.Tensor:
        """query ``[B, H * W, C]`` -> ``[B, H * W, C]``."""
        b, length, c = query.shape
        (h, w), window = hw_shape, self.window_size
        if length != h * w or h % window or w % window:
            return super().forward(query, hw_shape)
        # a map of exactly one window is not shifted unless small maps are padded
        shift = 0 if min(h, w) == window and not self.pad_small_map else self.shift_size
        order, inverse, mask = self.window_layout((h, w), window, shift, query.device)
        windows = _PermuteTokens.apply(query, order, inverse).view(-1, window**2, c)
        out = self.w_msa(windows, mask=mask).view(b, length, c)
        return self.drop(_PermuteTokens.apply(out, inverse, order))

    def window_layout(self, hw, window: int, shift: int, device):
        """:func:`shifted_window_layout`, built once per ``(H, W, window, shift,
        device)`` and kept in a plain dict on the block (not in the state dict; at
        most :attr:`MAX_LAYOUTS` entries) instead of about 15 small kernels in every
        forward. Built outside inference mode, so that a layout first made under
        ``torch.inference_mode`` serves later training forwards. While TorchDynamo
        traces it is rebuilt, as before, and the graph mutates no cache."""
        if torch.compiler.is_compiling():
            return shifted_window_layout(hw, window, shift, device)
        layouts = self.__dict__.setdefault('_window_layouts', {})
        key = (*hw, window, shift, device)
        if key not in layouts:
            if len(layouts) >= self.MAX_LAYOUTS:
                layouts.clear()
            with torch.inference_mode(False):
                layouts[key] = shifted_window_layout(hw, window, shift, device)
        return layouts[key]


def use_fast_forward(model: nn.Module) -> nn.Module:
    """Switch every mmpretrain attention, Swin window attention and shifted-window
    wrapper inside ``model`` to the forwards above, in place (parameters and keys
    unchanged); returns ``model``. mmdet's PVT blocks are switched by
    :func:`.fast_pvt_blocks.use_fast_forward`, apart because mmdet's PVT imports
    mmcv's compiled ops, which ViT and Swin do without. Drop-path rates that
    mmpretrain stores as numpy floats become Python floats (the same value; under
    torch.compile a numpy rate is a data-dependent branch, a graph break)."""
    for module in model.modules():
        if isinstance(module, DropPath):
            module.drop_prob = float(module.drop_prob)
        if type(module) is MultiheadAttention:
            module.__class__ = UnbindQKVAttention
        elif type(module) is WindowMSA:
            module.__class__ = UnbindQKVWindowMSA
        elif type(module) is ShiftWindowMSA:
            module.__class__ = PermutedShiftWindowMSA
    return model
