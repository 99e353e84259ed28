# Mask R-CNN Swin-B + FPN, 1x, single scale, from an mmmim pretraining checkpoint
# (e.g. LocalMIM / SimMIM Swin-B) or a fine-tuned mmpretrain Swin-B classifier.
# Recipe: Swin-T's (AdamW lr 1e-4, wd 0.05) with drop path 0.3; mmdet has no Swin-B.
# Published number: none this recipe can reach. LocalMIM's Swin-B 50.7 box AP
# (SimMIM-192 50.4, GreenMIM 50.0) is attached to the ms-crop-3x config: 1x single
# scale is about 3 AP below ms-crop-3x for mmdet's Swin-T (42.7 vs 46.0), and the
# papers' detection setting was not retrievable (docs/downstream.md).
_base_ = [
    '../_base_/models/mask-rcnn_swin-b-p4-w7_fpn.py',
    '../_base_/datasets/coco_instance.py',
    '../_base_/schedules/adamw_1x.py',
    'mmdet::_base_/default_runtime.py',
]
