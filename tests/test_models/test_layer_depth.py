"""Layer depth per backbone family, on tiny real modules of every library we feed."""
import pytest
import torch

from mmmim.models.layer_depth import family_of, family_rule, layer_depth_rule, vit_layer_depth


def depths_of(backbone, prefix=''):
    rule = family_rule(backbone)
    return {name: rule(prefix + name, prefix)[0] for name, _ in backbone.named_parameters()}


def tiny_mmpretrain_vit(**kwargs):
    from mmpretrain.models import VisionTransformer
    return VisionTransformer(arch=dict(embed_dims=16, num_layers=3, num_heads=2,
                                       feedforward_channels=32),
                             img_size=32, patch_size=16, **kwargs)


def tiny_mmpretrain_swin(**kwargs):
    from mmpretrain.models import SwinTransformer
    return SwinTransformer(arch=dict(embed_dims=16, depths=[2, 3], num_heads=[1, 2]),
                           img_size=64, window_size=4, out_indices=(0, 1), **kwargs)


def tiny_mm_swin(library):
    """mmdet's or mmseg's SwinTransformer (the same layout), with absolute positions."""
    if library == 'mmdet':
        from mmdet.models.backbones import SwinTransformer
    else:
        from mmseg.models.backbones import SwinTransformer
    return SwinTransformer(pretrain_img_size=64, embed_dims=16, depths=(2, 3),
                           num_heads=(1, 2), strides=(4, 2), window_size=4,
                           out_indices=(0, 1), use_abs_pos_embed=True)


def tiny_mmdet_pvt(v2=False):
    from mmdet.models.backbones import PyramidVisionTransformer, PyramidVisionTransformerV2
    if v2:  # four stages: v2 fixes its patch sizes
        return PyramidVisionTransformerV2(
            pretrain_img_size=64, embed_dims=8, num_stages=4, num_layers=[2, 1, 1, 1],
            num_heads=[1, 1, 1, 1], strides=[4, 2, 2, 2], sr_ratios=[2, 1, 1, 1],
            mlp_ratios=[2] * 4, out_indices=(3,))
    return PyramidVisionTransformer(
        pretrain_img_size=64, embed_dims=8, num_stages=2, num_layers=[2, 1], num_heads=[1, 2],
        patch_sizes=[4, 2], strides=[4, 2], sr_ratios=[2, 1], mlp_ratios=[2, 2],
        out_indices=(1,))


def test_vit_rule__is_mmpretrain_get_layer_depth_for_every_parameter_with_pre_norm():
    vit = tiny_mmpretrain_vit(pre_norm=True, final_norm=True)
    rule = family_rule(vit)
    for name, _ in vit.named_parameters():
        for prefix in ('', 'backbone.'):
            assert rule(prefix + name, prefix) == vit.get_layer_depth(prefix + name, prefix)
    assert rule('head.fc.weight', 'backbone.') == (4, 5)
    # the papers' rule (and mmpretrain's): pre_norm is not stem, it goes to the top
    assert rule('pre_norm.weight') == (4, 5) and rule('cls_token') == (0, 5)


def test_swin_rule__is_mmpretrain_get_layer_depth_incl_absolute_pos_embed():
    swin = tiny_mmpretrain_swin(use_abs_pos_embed=True)
    rule = family_rule(swin)
    for name, _ in swin.named_parameters():
        assert rule('backbone.' + name, 'backbone.') == swin.get_layer_depth(
            'backbone.' + name, 'backbone.')
    assert rule('absolute_pos_embed') == (6, 7)          # SimMIM and mmpretrain: top


@pytest.mark.parametrize('library', ['mmdet', 'mmseg'])
def test_swin_rule__mmdet_and_mmseg_swin_count_blocks_across_stages(library):
    depth = depths_of(tiny_mm_swin(library))
    assert depth['patch_embed.projection.weight'] == 0
    assert depth['stages.0.blocks.0.attn.w_msa.relative_position_bias_table'] == 1
    assert depth['stages.0.blocks.1.ffn.layers.1.weight'] == 2
    assert depth['stages.0.downsample.reduction.weight'] == 2   # merging ends stage 0
    assert depth['stages.0.downsample.norm.weight'] == 2
    assert depth['stages.1.blocks.0.attn.w_msa.qkv.weight'] == 3
    assert depth['stages.1.blocks.2.norm2.weight'] == 5
    assert depth['norm1.weight'] == 6 and depth['absolute_pos_embed'] == 6
    # the same rule as mmpretrain's Swin on the names the libraries share
    reference = tiny_mmpretrain_swin(use_abs_pos_embed=True)
    shared = set(depth) & {n for n, _ in reference.named_parameters()}
    assert len(shared) > 20
    assert all(depth[n] == reference.get_layer_depth(n)[0] for n in shared)


@pytest.mark.parametrize('v2', [False, True], ids=['v1', 'v2'])
def test_pvt_rule__stage_entry_follows_the_previous_stage_and_norm_ends_its_own(v2):
    depth = depths_of(tiny_mmdet_pvt(v2))
    first = 0 if v2 else 1              # v1: layers.s.1.0 is the position embedding
    assert depth['layers.0.0.projection.weight'] == 0
    assert depth[f'layers.0.1.{first}.attn.attn.in_proj_weight'] == 1
    assert depth[f'layers.0.1.{first + 1}.norm2.weight'] == 2
    if v2:                                    # norm_after_stage (v1: Identity)
        assert depth['layers.0.2.weight'] == 2                   # stage 0's norm
    assert depth['layers.1.0.projection.weight'] == 2            # stage 1's entry
    assert depth[f'layers.1.1.{first}.norm1.weight'] == 3
    if not v2:
        assert depth['layers.0.1.0.pos_embed'] == 0 and depth['layers.1.1.0.pos_embed'] == 2
    num_depths = (5 if v2 else 3) + 2
    assert max(depth.values()) == num_depths - 2          # no final norm in mmdet's PVT
    assert family_rule(tiny_mmdet_pvt(v2))('neck.conv.weight', 'backbone.') == (
        num_depths - 1, num_depths)


def test_vit_rule__mmseg_mae_layers_with_layer_scale_and_relative_bias():
    from mmseg.models.backbones import MAE
    mae = MAE(img_size=32, patch_size=16, embed_dims=16, num_layers=3, num_heads=2,
              mlp_ratio=2, init_values=1.0, out_indices=[2])
    depth = depths_of(mae, 'backbone.')
    assert family_of(mae) == 'vit'
    assert depth['cls_token'] == depth['pos_embed'] == depth['patch_embed.projection.weight'] == 0
    assert depth['layers.0.gamma_1'] == 1
    assert depth['layers.2.attn.relative_position_bias_table'] == 3
    assert depth['layers.2.ffn.layers.1.weight'] == 3


def test_vit_rule__vitdet_blocks_and_rel_pos_naming():
    import timm
    vit = timm.create_model('vit_tiny_patch16_224', pretrained=False, img_size=32, depth=2,
                            embed_dim=16, num_heads=2, num_classes=0)
    depth = depths_of(vit)
    assert depth['cls_token'] == depth['pos_embed'] == depth['patch_embed.proj.weight'] == 0
    assert depth['blocks.1.mlp.fc2.weight'] == 2 and depth['norm.weight'] == 3
    # ViTDet on mmpretrain keys: window blocks' relative positions are their block's
    assert vit_layer_depth('layers.3.attn.rel_pos_h', num_blocks=12) == (4, 14)
    assert vit_layer_depth('blocks.11.attn.rel_pos_w', num_blocks=12) == (12, 14)


def test_encoders__get_layer_depth_is_the_family_rule_and_mmpretrains_on_shared_names():
    from mmpretrain.models import SwinTransformer, VisionTransformer

    from mmmim.models.encoders import MaskedPVT, MaskedSwin, MaskedViT
    vit = MaskedViT(arch=dict(embed_dims=16, num_layers=3, num_heads=2,
                              feedforward_channels=32), img_size=32, patch_size=16,
                    secondary_token=True, fixed_pos_embed=False)
    swin = MaskedSwin(arch=dict(embed_dims=16, depths=[2, 3], num_heads=[1, 2]),
                      img_size=64, window_size=4, out_indices=(0, 1), masking='mask_token')
    pvt = MaskedPVT(pretrain_img_size=64, embed_dims=8, num_stages=2, num_layers=[2, 1],
                    num_heads=[1, 2], patch_sizes=[4, 2], strides=[4, 2], sr_ratios=[2, 1],
                    mlp_ratios=[2, 2], out_indices=(1,), fixed_pos_embed=False)
    for encoder, parent in ((vit, VisionTransformer), (swin, SwinTransformer), (pvt, None)):
        rule = family_rule(encoder)
        assert layer_depth_rule(encoder) == encoder.get_layer_depth
        for name, _ in encoder.named_parameters():
            ours = encoder.get_layer_depth('backbone.' + name, 'backbone.')
            assert ours == rule('backbone.' + name, 'backbone.')
            if parent is not None and 'token' not in name:
                assert ours == parent.get_layer_depth(encoder, 'backbone.' + name, 'backbone.')
    assert vit.get_layer_depth('secondary_token') == (0, 5)
    assert swin.get_layer_depth('mask_token') == (0, 7)
    mmdet_pvt = depths_of(tiny_mmdet_pvt())
    assert all(pvt.get_layer_depth(n)[0] == d for n, d in mmdet_pvt.items())
    assert pvt.get_layer_depth('norm.weight') == (4, 5)           # final norm: top


def test_family_of__unknown_backbone_names_its_class():
    with pytest.raises(TypeError, match=r'torch\.nn\.modules\.linear\.Linear.*get_layer_depth'):
        layer_depth_rule(torch.nn.Linear(2, 2))
