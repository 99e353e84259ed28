# Mask R-CNN Swin-B + FPN, 3x (36 epochs), multi-scale + crop training.
# Published number: see the 1x config (LocalMIM paper: 50.7 box AP, schedule not
# stated); no mmdet reference (mmdet has no Swin-B config).
_base_ = [
    '../_base_/models/mask-rcnn_swin-b-p4-w7_fpn.py',
    '../_base_/datasets/coco_instance_ms-crop.py',
    '../_base_/schedules/adamw_3x.py',
    'mmdet::_base_/default_runtime.py',
]
