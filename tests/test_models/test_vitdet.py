"""ViTDet backbone and simple feature pyramid: window attention, relative positions,
loading a tiny mmmim MAE checkpoint, layer depths, the pyramid's levels."""
import pytest
import torch
from mmengine.registry import init_default_scope
from test_converters.helpers import IMAGE, TINY, tiny_pretrained_model

from mmmim.converters import ConversionError, MIMPretrained
from mmmim.models.necks import SimpleFeaturePyramid
from mmmim.models.vitdet import (
    RelPosAttention,
    ViTDetBackbone,
    ViTDetBlock,
    decomposed_rel_pos_bias,
    window_partition,
    window_unpartition,
)

init_default_scope('mmmim')
WIDTH, HEADS = 32, 2


def tiny_backbone(**kw) -> ViTDetBackbone:
    """2 blocks: block 0 windows of 2 x 2 patches, block 1 global; 64 px -> 4 x 4."""
    cfg = dict(arch=TINY, img_size=IMAGE, pretrain_img_size=IMAGE, window_size=2,
               global_indices=(1,), drop_path_rate=0.)
    cfg.update(kw)
    return ViTDetBackbone(**cfg)


def randomize_(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Every parameter (relative position tables too) non-trivial."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0, 0.3)
    return module.eval()


@pytest.fixture(scope='module')
def mae_checkpoint(tmp_path_factory):
    """(tiny MAE model, path of its ``{'state_dict': ...}`` checkpoint)."""
    model = tiny_pretrained_model(secondary_token=True)
    path = tmp_path_factory.mktemp('vitdet') / 'tiny_mae.pth'
    torch.save({'state_dict': model.state_dict()}, path)
    return model, str(path)


# --- windows -------------------------------------------------------------------

def test_window_partition__round_trip_is_exact_with_padding():
    x = torch.randn(2, 5, 7, 3)
    tiles, padded = window_partition(x, 3)
    assert tiles.shape == (2 * 2 * 3, 3, 3, 3) and padded == (6, 9)
    torch.testing.assert_close(tiles[0], x[0, :3, :3], atol=0, rtol=0)   # row-major tiles
    torch.testing.assert_close(tiles[1], x[0, :3, 3:6], atol=0, rtol=0)
    assert (tiles[2][:, 1:] == 0).all()                                  # right padding
    torch.testing.assert_close(window_unpartition(tiles, 3, padded, (5, 7)), x,
                               atol=0, rtol=0)


def test_window_block__equals_global_block_when_the_window_covers_the_map():
    window_block = randomize_(ViTDetBlock(WIDTH, HEADS, 64, window_size=4, rel_pos_size=4))
    global_block = ViTDetBlock(WIDTH, HEADS, 64, window_size=0, rel_pos_size=4).eval()
    global_block.load_state_dict(window_block.state_dict())
    x = torch.randn(2, 4, 4, WIDTH)
    torch.testing.assert_close(window_block(x), global_block(x), atol=1e-6, rtol=0)


def test_window_block__windows_do_not_see_each_other():
    block = randomize_(ViTDetBlock(WIDTH, HEADS, 64, window_size=2, rel_pos_size=2))
    x = torch.randn(1, 4, 4, WIDTH)
    changed = x.clone()
    changed[:, :2, :2] += 1.0                         # only the top-left window
    out, out_changed = block(x), block(changed)
    assert not torch.allclose(out[:, :2, :2], out_changed[:, :2, :2])
    torch.testing.assert_close(out[:, 2:], out_changed[:, 2:], atol=0, rtol=0)
    torch.testing.assert_close(out[:, :, 2:], out_changed[:, :, 2:], atol=0, rtol=0)


# --- relative positions ---------------------------------------------------------

def test_rel_pos__zero_tables_give_plain_multihead_attention():
    """Against mmpretrain's MultiheadAttention with the same qkv / proj weights."""
    from mmpretrain.models.utils import MultiheadAttention
    ours = randomize_(RelPosAttention(WIDTH, HEADS, rel_pos_size=3))
    with torch.no_grad():
        ours.rel_pos_h.zero_()
        ours.rel_pos_w.zero_()
    plain = MultiheadAttention(WIDTH, HEADS).eval()
    plain.load_state_dict({k: v for k, v in ours.state_dict().items() if 'rel_pos' not in k})
    x = torch.randn(2, 3, 3, WIDTH)
    torch.testing.assert_close(ours(x).flatten(1, 2), plain(x.flatten(1, 2)),
                               atol=1e-5, rtol=0)
    with torch.no_grad():
        ours.rel_pos_h.normal_()
    assert not torch.allclose(ours(x).flatten(1, 2), plain(x.flatten(1, 2)), atol=1e-3)


def test_rel_pos__bias_is_query_dot_table_at_each_axis_offset():
    h, w, dims = 3, 4, 5
    q = torch.randn(2, HEADS, h * w, dims)
    table_h, table_w = torch.randn(2 * h - 1, dims), torch.randn(2 * w - 1, dims)
    bias = decomposed_rel_pos_bias(q, (h, w), table_h, table_w)
    grid_q = q.view(2, HEADS, h, w, dims)
    expected = torch.empty(2, HEADS, h, w, h, w)
    for i, j, k, m in torch.cartesian_prod(*map(torch.arange, (h, w, h, w))).tolist():
        expected[:, :, i, j, k, m] = (grid_q[:, :, i, j] @ table_h[i - k + h - 1]
                                      + grid_q[:, :, i, j] @ table_w[j - m + w - 1])
    torch.testing.assert_close(bias, expected.view_as(bias), atol=1e-5, rtol=0)


def test_rel_pos__global_block_runs_on_another_map_size_by_resampling_its_tables():
    backbone = randomize_(tiny_backbone())
    out = backbone(torch.randn(1, 3, 96, 128))[0]              # 6 x 8 patches, tables for 4
    assert out.shape == (1, WIDTH, 6, 8) and torch.isfinite(out).all()


# --- backbone --------------------------------------------------------------------

def test_backbone__last_map_nchw_at_stride_16_for_non_square_input():
    out = tiny_backbone()(torch.randn(2, 3, 64, 96))
    assert isinstance(out, tuple) and len(out) == 1
    assert out[0].shape == (2, WIDTH, 4, 6)


def test_backbone__with_cp_gives_the_same_output_and_gradients():
    plain = randomize_(tiny_backbone()).train()
    checkpointed = tiny_backbone(with_cp=True).train()
    checkpointed.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 64, 64)
    out_plain, out_cp = plain(x)[0], checkpointed(x)[0]
    out_plain.square().sum().backward()
    out_cp.square().sum().backward()
    torch.testing.assert_close(out_cp, out_plain, atol=1e-6, rtol=0)
    for (name, a), b in zip(plain.named_parameters(), checkpointed.parameters()):
        if a.requires_grad:
            torch.testing.assert_close(b.grad, a.grad, atol=1e-5, rtol=1e-5, msg=name)


def test_backbone__drop_path_is_active_only_in_training():
    backbone = randomize_(tiny_backbone(drop_path_rate=0.5))
    x = torch.randn(4, 3, 64, 64)
    torch.testing.assert_close(backbone(x)[0], backbone(x)[0], atol=0, rtol=0)
    backbone.train()
    torch.manual_seed(1)
    first = backbone(x)[0]
    assert not torch.allclose(first, backbone(x)[0])


def test_backbone__layer_depth_follows_mmpretrain_vit_rule():
    backbone = tiny_backbone()
    top = TINY['num_layers'] + 1
    assert backbone.get_layer_depth('backbone.patch_embed.projection.weight',
                                    'backbone.') == (0, top + 1)
    assert backbone.get_layer_depth('backbone.pos_embed', 'backbone.')[0] == 0
    assert backbone.get_layer_depth('backbone.layers.1.attn.rel_pos_h', 'backbone.')[0] == 2
    assert backbone.get_layer_depth('neck.lateral_convs.0.conv.weight', 'backbone.')[0] == top


def test_backbone__layer_decay_constructor_scales_blocks_by_depth():
    from mmmim.engine.optimizers.layer_decay import LayerDecayOptimWrapperConstructor
    model = torch.nn.Module()
    model.backbone, model.neck = tiny_backbone(), SimpleFeaturePyramid(WIDTH, 8)
    wrapper = LayerDecayOptimWrapperConstructor(
        dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.1)),
        dict(layer_decay_rate=0.7))(model)
    scale = {name: g['lr'] / 1e-4 for g in wrapper.optimizer.param_groups
             for name in g['names']}
    top = TINY['num_layers'] + 1
    assert scale['backbone.pos_embed'] == pytest.approx(0.7 ** top)
    assert scale['backbone.layers.0.attn.qkv.weight'] == pytest.approx(0.7 ** (top - 1))
    assert scale['backbone.layers.1.ffn.layers.1.weight'] == pytest.approx(0.7)
    assert scale['neck.lateral_convs.0.conv.weight'] == pytest.approx(1.0)
    assert 'backbone.cls_token' not in scale          # frozen: ViTDet uses no class token


# --- loading a tiny mmmim MAE pretraining checkpoint ----------------------------

def test_load__mae_checkpoint_fills_every_backbone_tensor_but_rel_pos(mae_checkpoint):
    model, path = mae_checkpoint
    backbone = tiny_backbone()
    report = MIMPretrained(path)(backbone)
    assert report.converter == 'vit->vitdet' and report.ok
    assert sorted(report.expected_missing) == sorted(
        f'layers.{i}.attn.rel_pos_{a}' for i in range(TINY['num_layers']) for a in 'hw')
    assert report.dropped_on_purpose['ln1.weight'] == 'ViTDet has no final norm'
    assert 'secondary_token' in report.dropped_on_purpose
    encoder = model.encoder.state_dict()
    loaded = backbone.state_dict()
    assert set(report.matched) == set(loaded) - set(report.expected_missing)
    for key in report.matched:
        torch.testing.assert_close(loaded[key], encoder[key], atol=0, rtol=0, msg=key)
    assert not any(loaded[k].any() for k in report.expected_missing)


def test_load__features_equal_mmpretrain_blocks_on_patch_tokens(mae_checkpoint, photo_batch):
    """All-global, no relative positions: the loaded backbone equals the encoder's
    own (mmpretrain) blocks run on the patch tokens without the class token."""
    model, path = mae_checkpoint
    backbone = tiny_backbone(global_indices=range(TINY['num_layers']), use_rel_pos=False)
    MIMPretrained(path)(backbone)
    encoder = model.encoder
    with torch.no_grad():
        tokens = encoder.patch_embed(photo_batch)[0] + encoder.pos_embed[:, 1:]
        for layer in encoder.layers:
            tokens = layer(tokens)
        ours = backbone.eval()(photo_batch)[0]
    torch.testing.assert_close(ours.flatten(2).transpose(1, 2), tokens, atol=1e-5, rtol=0)


def test_load__detector_level_init_cfg_loads_the_backbone_and_skips_its_random_init(
        mae_checkpoint):
    model, path = mae_checkpoint
    from mmengine.model import BaseModule

    class Detector(BaseModule):
        def __init__(self):
            super().__init__(init_cfg=dict(type='MIMPretrained', checkpoint=path,
                                           submodule='backbone'))
            self.backbone = tiny_backbone()

    detector = Detector()
    detector.init_weights()
    torch.testing.assert_close(detector.backbone.pos_embed, model.encoder.pos_embed,
                               atol=0, rtol=0)


def test_load__backbone_level_init_cfg_overwrites_the_random_init(mae_checkpoint):
    model, path = mae_checkpoint
    backbone = tiny_backbone(init_cfg=dict(type='MIMPretrained', checkpoint=path))
    backbone.init_weights()
    loaded = backbone.state_dict()
    for key, value in model.encoder.state_dict().items():
        if key in loaded:
            torch.testing.assert_close(loaded[key], value, atol=0, rtol=0, msg=key)


def test_load__other_pretraining_grid_is_resized_once_and_noted(tmp_path):
    model = tiny_pretrained_model()                   # 64 px: 4 x 4 grid
    path = tmp_path / 'mae64.pth'
    torch.save({'state_dict': model.state_dict()}, path)
    backbone = tiny_backbone(pretrain_img_size=32)    # stores a 2 x 2 grid
    report = MIMPretrained(str(path))(backbone)
    assert backbone.pos_embed.shape == (1, 1 + 4, WIDTH)
    assert any('pos_embed resized' in n for n in report.notes)


def test_load__missing_block_tensor_fails_naming_it(mae_checkpoint, tmp_path):
    model, _ = mae_checkpoint
    state = dict(model.state_dict())
    del state['encoder.layers.1.ffn.layers.1.weight']
    path = tmp_path / 'broken.pth'
    torch.save({'state_dict': state}, path)
    with pytest.raises(ConversionError, match='layers.1.ffn.layers.1.weight'):
        MIMPretrained(str(path))(tiny_backbone())


def test_load__wider_checkpoint_fails_on_shapes(mae_checkpoint):
    _, path = mae_checkpoint
    wider = tiny_backbone(arch={**TINY, 'embed_dims': 64})
    with pytest.raises(ConversionError, match='wrong shape'):
        MIMPretrained(path)(wider)


# --- simple feature pyramid -------------------------------------------------------

def test_simple_fpn__strides_4_to_64_from_one_stride_16_map():
    neck = SimpleFeaturePyramid(in_channels=WIDTH, out_channels=8).eval()
    neck.init_weights()
    outs = neck((torch.randn(2, WIDTH, 8, 8),))
    assert [o.shape[-1] for o in outs] == [32, 16, 8, 4, 2]
    assert all(o.shape[:2] == (2, 8) for o in outs)
    torch.testing.assert_close(outs[4], outs[3][..., ::2, ::2], atol=0, rtol=0)   # P6


def test_simple_fpn__layer_norms_and_no_conv_bias_as_vitdet():
    from mmpretrain.models.utils import LayerNorm2d
    neck = SimpleFeaturePyramid(in_channels=WIDTH, out_channels=8)
    up4 = neck.rescales[0]
    assert isinstance(up4[1], LayerNorm2d) and up4[1].eps == 1e-6
    assert isinstance(up4[2], torch.nn.GELU)
    assert up4[3].out_channels == WIDTH // 4 and neck.rescales[1].out_channels == WIDTH // 2
    for conv in (*neck.lateral_convs, *neck.output_convs):
        assert conv.conv.bias is None and isinstance(conv.norm, LayerNorm2d)
        assert not conv.with_activation


def test_simple_fpn__unknown_scale_factor_is_refused():
    with pytest.raises(ValueError, match='scale factor 3.0'):
        SimpleFeaturePyramid(in_channels=WIDTH, scale_factors=(3.0,), num_outs=1)
