# Mask R-CNN Swin-T + FPN, 3x (36 epochs), multi-scale + crop training.
# Recipe: mmdet configs/swin/mask-rcnn_swin-t-p4-w7_fpn_ms-crop-3x_coco.py.
# Published number: none for an MIM-pretrained Swin-T Mask R-CNN. The recipe's
# supervised IN-1K reference: 46.0 box / 41.6 mask AP (mmdet metafile; STOD README).
_base_ = [
    '../_base_/models/mask-rcnn_swin-t-p4-w7_fpn.py',
    '../_base_/datasets/coco_instance_ms-crop.py',
    '../_base_/schedules/adamw_3x.py',
    'mmdet::_base_/default_runtime.py',
]
