# Mask R-CNN Swin-T + FPN, 1x, single scale, from an mmmim pretraining checkpoint
# (e.g. UM-MAE Swin-T) or a fine-tuned mmpretrain Swin-T classifier (backbone.*).
# Recipe: mmdet configs/swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py (AdamW lr 1e-4,
# wd 0.05, drop path 0.2, batch 16, no layer decay).
# Published number: none for an MIM-pretrained Swin-T Mask R-CNN (UM-MAE released
# GFL, not Mask R-CNN). The recipe's supervised IN-1K reference: 42.7 box / 39.3
# mask AP (mmdet configs/swin/metafile.yml); STOD's README gives 43.7 / 39.8.
_base_ = [
    '../_base_/models/mask-rcnn_swin-t-p4-w7_fpn.py',
    '../_base_/datasets/coco_instance.py',
    '../_base_/schedules/adamw_1x.py',
    'mmdet::_base_/default_runtime.py',
]
