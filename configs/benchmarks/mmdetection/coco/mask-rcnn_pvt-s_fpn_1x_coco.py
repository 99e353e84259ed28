# Mask R-CNN PVT-S (v1) + FPN, 1x, single scale, from an mmmim pretraining checkpoint
# (e.g. UM-MAE PVT-S) or a fine-tuned classifier with our MaskedPVT backbone.
# Recipe: the official PVT Mask R-CNN (whai362/PVT
# detection/configs/mask_rcnn_pvt_s_fpn_1x_coco.py): AdamW lr 2e-4, wd 1e-4, batch 16.
# Published number: none for an MIM-pretrained PVT-S Mask R-CNN. Supervised IN-1K
# reference: 40.4 box / 37.8 mask AP (whai362/PVT detection/README.md).
_base_ = [
    '../_base_/models/mask-rcnn_pvt-s_fpn.py',
    '../_base_/datasets/coco_instance.py',
    '../_base_/schedules/adamw_1x.py',
    'mmdet::_base_/default_runtime.py',
]

# weight decay on every parameter, as the official PVT (no exemptions)
optim_wrapper = dict(optimizer=dict(lr=2e-4, weight_decay=1e-4),
                     paramwise_cfg=dict(no_decay_1d=False, no_decay_names=(),
                                        no_decay_norms=None))
# warm-up over 500 iterations, as the official PVT (mmdet 2.x schedule_1x; Swin's: 1000)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True, milestones=[8, 11], gamma=0.1),
]
