# GFL Swin-T + FPN, UM-MAE's released detection recipe (implus/UM-MAE DET/configs/gfl/
# gfl_mae_swin_tiny_256_mask_vmr025_200e_100e_fpn_25ep_1024x1024_coco.py): LSJ 1024
# (scale 0.1-2.0), 25 epochs, AdamW 1e-4 / wd 0.05, cosine, fp16, 8 GPUs x 2 = 16;
# what is shared with PVT-S, and how it maps onto mmdet 3, is in the base.
# Start from the ImageNet-1K FINE-TUNED Swin-T, as UM-MAE did: ours is
# work_dirs/swin-tiny-w16_8xb128-ft-ld0.85-coslr-100e_in1k-256px/epoch_100.pth
# (docs/downstream.md, "UM-MAE's GFL"; the launch tools' PRETRAIN replaces it).
# Backbone: mmdet's Swin-T, window 16 in every stage and drop path 0.1 as the recipe's
# SwinDet (the classifier's 16/16/16/8 bias tables load, stage 4's resized to 16).
# Not as UM-MAE: its SwinDet projects each stage's output (LayerNorm, then Linear to
# 768) and its FPN reads four 768-wide maps; here mmdet's per-stage output LayerNorm
# feeds the FPN, whose 1x1 lateral conv composes with such a Linear into one linear
# map (same function class, another parametrization). UM-MAE biases attention by a
# position MLP of log-spaced offsets; we keep Swin's bias tables (docs/downstream_htc.md).
# Target: none quoted (the UM-MAE paper's GFL table was not retrieved).
_base_ = '../_base_/gfl_fpn_lsj-1024-25e_coco.py'

model = dict(
    backbone=dict(
        type='SwinTransformer', embed_dims=96, depths=[2, 2, 6, 2],
        num_heads=[3, 6, 12, 24], window_size=16, mlp_ratio=4, qkv_bias=True,
        drop_path_rate=0.1, patch_norm=True, out_indices=(0, 1, 2, 3), with_cp=False,
        convert_weights=False),
    neck=dict(in_channels=[96, 192, 384, 768]),
    init_cfg=dict(checkpoint='work_dirs/swin-tiny-w16_8xb128-ft-ld0.85-coslr-100e_in1k-256px/'
                             'epoch_100.pth'))
