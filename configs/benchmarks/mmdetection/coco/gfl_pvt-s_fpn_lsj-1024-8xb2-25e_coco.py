# GFL PVT-S + FPN, UM-MAE's released detection recipe (implus/UM-MAE DET/configs/gfl/
# gfl_mae_pvt_small_256_mask_vmr025_200e_100e_fpn_25ep_1024x1024_coco.py): the Swin-T
# recipe with UM-MAE's PVT-S (drop path 0.1); shared items and their mmdet 3 form are
# in the base.
# Start from the ImageNet-1K FINE-TUNED PVT-S, as UM-MAE did: ours is
# work_dirs/pvt-small_8xb128-ft-ld0.85-coslr-100e_in1k-256px/epoch_100.pth
# (docs/downstream.md, "UM-MAE's GFL"; the launch tools' PRETRAIN replaces it).
# Backbone: mmdet's PVT v1 as the PVT-S Mask R-CNN / UperNet configs (dims
# 64/128/320/512, SR ratios 8/4/2/1, the 256-px position grids resized at forward).
# Not as UM-MAE: its PVTDet projects each stage's output (LayerNorm, then Linear to
# 768) and its FPN reads four 768-wide maps; here the stage maps feed the FPN, whose
# 1x1 lateral conv composes with such a Linear into one linear map.
# Target: none quoted (the UM-MAE paper's GFL table was not retrieved).
_base_ = '../_base_/gfl_fpn_lsj-1024-25e_coco.py'

model = dict(
    backbone=dict(
        type='PyramidVisionTransformer', embed_dims=64, num_layers=[3, 4, 6, 3],
        num_heads=[1, 2, 5, 8], sr_ratios=[8, 4, 2, 1], mlp_ratios=[8, 8, 4, 4],
        qkv_bias=True, drop_path_rate=0.1, pretrain_img_size=256, out_indices=(0, 1, 2, 3),
        convert_weights=False),
    neck=dict(in_channels=[64, 128, 320, 512]),
    init_cfg=dict(checkpoint='work_dirs/pvt-small_8xb128-ft-ld0.85-coslr-100e_in1k-256px/'
                             'epoch_100.pth'))
