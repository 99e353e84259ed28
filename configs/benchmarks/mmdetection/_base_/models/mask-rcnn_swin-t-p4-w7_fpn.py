# Mask R-CNN with mmdet's Swin-T (window 7, drop path 0.2: mmdet's
# mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py). mmmim / mmpretrain checkpoints have
# mm-layout keys, so convert_weights=False (True would rename them to
# backbone.backbone.* and crash, mmpretrain#945).
_base_ = './mask-rcnn_fpn.py'

model = dict(
    backbone=dict(
        type='SwinTransformer', embed_dims=96, depths=[2, 2, 6, 2],
        num_heads=[3, 6, 12, 24], window_size=7, mlp_ratio=4, qkv_bias=True,
        drop_path_rate=0.2, patch_norm=True, out_indices=(0, 1, 2, 3),
        with_cp=False, convert_weights=False),
    neck=dict(in_channels=[96, 192, 384, 768]))
