# Mask R-CNN PVT-S + FPN, 3x (36 epochs), the multi-scale + crop training of the Swin
# 3x configs, PVT's optimizer (AdamW lr 2e-4, wd 1e-4).
# Published number: none quoted (the spec records only PVT's 1x numbers).
_base_ = [
    '../_base_/models/mask-rcnn_pvt-s_fpn.py',
    '../_base_/datasets/coco_instance_ms-crop.py',
    '../_base_/schedules/adamw_3x.py',
    'mmdet::_base_/default_runtime.py',
]

# weight decay on every parameter, as the official PVT (no exemptions)
optim_wrapper = dict(optimizer=dict(lr=2e-4, weight_decay=1e-4),
                     paramwise_cfg=dict(no_decay_1d=False, no_decay_names=(),
                                        no_decay_norms=None))
