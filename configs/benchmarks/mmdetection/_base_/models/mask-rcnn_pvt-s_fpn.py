# Mask R-CNN with mmdet's PVT-S (v1: dims 64/128/320/512, depths 3/4/6/3, SR ratios
# 8/4/2/1, drop path 0.1 = mmdet's default). pretrain_img_size=256 keeps the
# position grids of a 256-px UM-MAE checkpoint (64/32/16/8; mmdet resizes them to
# the input at every forward); another checkpoint's grids are resized on load.
_base_ = './mask-rcnn_fpn.py'

model = dict(
    backbone=dict(type='PyramidVisionTransformer', num_layers=[3, 4, 6, 3],
                  pretrain_img_size=256, convert_weights=False),
    neck=dict(in_channels=[64, 128, 320, 512]))
