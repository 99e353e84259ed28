# Mask R-CNN Swin-B + FPN, 1x, single scale, from an mmmim pretraining checkpoint
# (e.g. LocalMIM / SimMIM Swin-B) or a fine-tuned mmpretrain Swin-B classifier.
# Recipe: Swin-T's (AdamW lr 1e-4, wd 0.05) with drop path 0.3; mmdet has no Swin-B.
# Published number: LocalMIM's paper reports Mask R-CNN Swin-B (LocalMIM, 400
# pretraining epochs) 50.7 box AP vs SimMIM-192 50.4 and GreenMIM 50.0; its
# detection schedule is not stated in what we read (spec localmim.md; no code).
_base_ = [
    '../_base_/models/mask-rcnn_swin-b-p4-w7_fpn.py',
    '../_base_/datasets/coco_instance.py',
    '../_base_/schedules/adamw_1x.py',
    'mmdet::_base_/default_runtime.py',
]
