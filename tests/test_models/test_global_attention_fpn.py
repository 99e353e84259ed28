"""GlobalAttentionFPN (HTC++'s extra global attention on the last stage, then an FPN):
on backbone maps of real photographs, only the last map is changed, attention is
global, the FPN output is the FPN of the refined maps, and it builds from an mmdet
config as ``type='mmmim.GlobalAttentionFPN'``."""
import pytest
import torch
from mmengine.registry import DefaultScope

import mmmim.models  # noqa: F401
from mmmim.models.necks import GlobalAttentionFPN

CHANNELS = [16, 32, 64, 128]


def fpn_cfg(**kw) -> dict:
    return dict(type='mmdet.FPN', in_channels=CHANNELS, out_channels=32, num_outs=5, **kw)


@pytest.fixture(scope='module')
def swin_maps(photo_batch):
    """Four maps (strides 4..32) of a tiny mmdet Swin on the photographs."""
    from mmdet.models.backbones import SwinTransformer
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmdet'):
        swin = SwinTransformer(embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 2, 4, 8],
                               window_size=2, out_indices=(0, 1, 2, 3))
    swin.eval()                                         # mmdet's Swin.train returns None
    with torch.no_grad():
        return tuple(swin(photo_batch))                 # [4, 16, 16, 16] ... [4, 128, 2, 2]


def tiny_neck(**kw) -> GlobalAttentionFPN:
    torch.manual_seed(0)
    neck = GlobalAttentionFPN(fpn=fpn_cfg(), num_heads=4, **kw)
    neck.init_weights()
    return neck.eval()


def test_refine_last__lower_maps_pass_through_and_last_keeps_its_shape(swin_maps):
    refined = tiny_neck().refine_last(swin_maps)
    assert len(refined) == 4
    for before, after in zip(swin_maps[:-1], refined[:-1]):
        assert after is before
    assert refined[-1].shape == swin_maps[-1].shape
    assert not torch.allclose(refined[-1], swin_maps[-1])


def test_forward__is_the_fpn_of_the_refined_maps(swin_maps):
    neck = tiny_neck()
    with torch.no_grad():
        outs = neck(swin_maps)
        expected = neck.fpn(neck.refine_last(swin_maps))
        plain_fpn = neck.fpn(swin_maps)
    assert [tuple(o.shape) for o in outs] == [(4, 32, s, s) for s in (16, 8, 4, 2, 1)]
    for out, ref in zip(outs, expected):
        torch.testing.assert_close(out, ref)
    assert not torch.allclose(outs[0], plain_fpn[0])    # top-down path carries the change


def test_global_attention__one_position_changes_every_output_position(swin_maps):
    neck = tiny_neck()
    last = swin_maps[-1].clone()                        # [4, 128, 2, 2]
    poked = last.clone()
    poked[:, :, 0, 0] += torch.linspace(-1, 1, last.shape[1])  # not a constant: LN would drop it
    with torch.no_grad():
        delta = (neck.global_attention(poked) - neck.global_attention(last)).abs()
    assert (delta.amax(dim=1) > 1e-5).all(), delta.amax(dim=1)  # all 2x2 positions, all images


def test_init__trunc_normal_linears_zero_biases_unit_norms():
    neck = GlobalAttentionFPN(fpn=fpn_cfg(), num_heads=8, mlp_ratio=4.0)
    neck.init_weights()
    linears = [m for m in neck.global_attention.modules() if isinstance(m, torch.nn.Linear)]
    assert [tuple(m.weight.shape) for m in linears] == [(384, 128), (128, 128), (512, 128),
                                                       (128, 512)]   # qkv, proj, fc1, fc2
    weights = torch.cat([m.weight.flatten() for m in linears])
    assert abs(weights.std().item() - 0.02) < 0.002
    assert all(m.bias is not None and not m.bias.any() for m in linears)
    norms = [m for m in neck.global_attention.modules() if isinstance(m, torch.nn.LayerNorm)]
    assert len(norms) == 3                              # pre-attention, pre-MLP, final
    assert all((n.weight == 1).all() and not n.bias.any() for n in norms)


def test_every_parameter_gets_a_gradient_with_layer_scale_and_checkpointing(swin_maps):
    neck = tiny_neck(layer_scale_init_value=0.1, drop_path_rate=0.1, with_cp=True).train()
    maps = [m.clone().requires_grad_() for m in swin_maps]
    sum(o.square().mean() for o in neck(maps)).backward()
    no_grad = [n for n, p in neck.named_parameters() if p.grad is None]
    assert not no_grad, no_grad
    assert any('gamma' in n for n, _ in neck.named_parameters())


def test_checkpointing__same_output_as_without(swin_maps):
    plain, checkpointed = tiny_neck(), tiny_neck(with_cp=True)
    maps = [m.clone().requires_grad_() for m in swin_maps]
    for a, b in zip(plain(maps), checkpointed(maps)):
        torch.testing.assert_close(a, b)


def test_builds_from_an_mmdet_config_by_mmmim_scope(swin_maps):
    from mmdet.registry import MODELS as MMDET_MODELS
    with DefaultScope.overwrite_default_scope('mmdet'):
        neck = MMDET_MODELS.build(dict(
            type='mmmim.GlobalAttentionFPN', num_heads=4,
            fpn=dict(type='FPN', in_channels=CHANNELS, out_channels=32, num_outs=5)))
    assert isinstance(neck, GlobalAttentionFPN)
    assert type(neck.fpn).__module__.startswith('mmdet.')


def test_bad_input__clear_errors():
    neck = tiny_neck()
    with pytest.raises(ValueError, match='got 3 maps'):
        neck.refine_last([torch.zeros(1, c, 2, 2) for c in CHANNELS[:3]])
    with pytest.raises(ValueError, match='num_heads=5'):
        GlobalAttentionFPN(fpn=fpn_cfg(), num_heads=5)
