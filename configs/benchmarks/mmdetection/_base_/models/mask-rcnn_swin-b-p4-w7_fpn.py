# Mask R-CNN with Swin-B (window 7). mmdet has no Swin-B config: Swin-T's with
# Swin-B's width and depth and the drop path 0.3 of STOD's Swin-B configs.
_base_ = './mask-rcnn_swin-t-p4-w7_fpn.py'

model = dict(
    backbone=dict(embed_dims=128, depths=[2, 2, 18, 2], num_heads=[4, 8, 16, 32],
                  drop_path_rate=0.3),
    neck=dict(in_channels=[128, 256, 512, 1024]))
