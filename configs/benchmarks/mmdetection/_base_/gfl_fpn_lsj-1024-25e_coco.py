# UM-MAE's GFL recipe on COCO boxes (implus/UM-MAE DET/configs/gfl/
# gfl_mae_{swin_tiny,pvt_small}_256_mask_vmr025_200e_100e_fpn_25ep_1024x1024_coco.py,
# mmdet 2.20, launched on 8 GPUs x 2 images: DET/DETECTION.md, coco_detection.py), in
# mmdet 3 terms; the two configs beside the Mask R-CNN ones add the backbone.
# - GFL: mmdet's gfl_r50_fpn_1x_coco.py head, ATSS assigner (top 9) and test settings
#   (score 0.05, NMS 0.6, 100 boxes), all equal to the recipe's;
# - FPN on stages 2-4 (start_level=1) plus two convs on its output (P3-P7), 256
#   channels, synchronized BatchNorm in its convs (mmcv's MMSyncBN there, torch's
#   SyncBN here; mmengine turns it into BatchNorm in a single process); stage 1's
#   output is unused (Swin's output norm `norm0` gets no gradient), hence
#   find_unused_parameters, as the recipe;
# - the backbone is loaded at the detector level (MIMPretrained, submodule='backbone',
#   as models/mask-rcnn_fpn.py), from the ImageNet FINE-TUNED classifier that each
#   config names (the recipe's `pretrained` is finetune_..._200e_100e/checkpoint-99.pth);
# - data: datasets/coco_detection_lsj-1024.py, each batch padded to 1024 x 1024 after
#   normalization; 25 epochs, validation (COCO box AP) every epoch, a checkpoint every 5;
# - AdamW lr 1e-4, wd 0.05, no gradient clipping; fp16 with a dynamic loss scale from
#   512 (mmcv's Fp16OptimizerHook(loss_scale=dict(init_scale=512)) -> AmpOptimWrapper;
#   mmdet 2.20's heads compute their losses in fp32 (force_fp32), mmdet 3's under
#   autocast). Mixed precision is the config's own: no --amp. On a CPU (float16
#   autocast needs a GPU): --cfg-options optim_wrapper.type=mmmim.GuardedAmpOptimWrapper
#   optim_wrapper.dtype=bfloat16 (with the prefix: mmdet's scope does not see mmmim's);
# - lr: linear warm-up over 2000 iterations from 0.001 x, cosine by epoch to 0.01 x
#   (mmcv's CosineAnnealing(min_lr_ratio=0.01) by epoch and linear warm-up: the same
#   lr from iteration 2000 on; mmengine's warm-up reaches 1 x one iteration earlier);
# - weight decay: the recipe exempts every parameter whose name contains 'pos_embed',
#   'norm' or 'bias' (custom_keys). The same rule on our parameter names, stated with
#   the constructor's options: the backbone's norm layers (all named norm*), every
#   `bias`, `pos_embed` (PVT), `in_proj_bias` (PVT's attention) and
#   `relative_position_bias_table` (Swin: 'bias' is in the name); the FPN's `bn` and
#   the head's `gn` weights and `scales` stay decayed, as there
#   (tests/test_downstream/test_weight_decay_groups.py: the same set as custom_keys on
#   both models). Where the architectures differ the rule lands differently: UM-MAE
#   decays its position MLP (our bias tables' counterpart) and the weights of its
#   output LayerNorms (`up1..4.0`); mmdet's Swin output norms `norm0..3` are exempt.
# Target: none quoted. The UM-MAE paper's GFL box AP is in its tables, which were not
# retrieved (shared spec downstream.md).
_base_ = [
    './datasets/coco_detection_lsj-1024.py',
    'mmdet::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmmim.converters', 'mmmim.engine'],
                      allow_failed_imports=False)

model = dict(
    type='GFL',
    data_preprocessor=dict(
        type='DetDataPreprocessor', mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_size_divisor=32,
        batch_augments=[dict(type='BatchFixedSizePad', size={{_base_.image_size}})]),
    backbone=dict(init_cfg=None),   # each config's; MIMPretrained loads it
    neck=dict(type='FPN', out_channels=256, start_level=1, add_extra_convs='on_output',
              num_outs=5, norm_cfg=dict(type='SyncBN', requires_grad=True)),
    bbox_head=dict(
        type='GFLHead', num_classes=80, in_channels=256, stacked_convs=4, feat_channels=256,
        anchor_generator=dict(type='AnchorGenerator', ratios=[1.0], octave_base_scale=8,
                              scales_per_octave=1, strides=[8, 16, 32, 64, 128]),
        loss_cls=dict(type='QualityFocalLoss', use_sigmoid=True, beta=2.0, loss_weight=1.0),
        loss_dfl=dict(type='DistributionFocalLoss', loss_weight=0.25),
        reg_max=16,
        loss_bbox=dict(type='GIoULoss', loss_weight=2.0)),
    train_cfg=dict(assigner=dict(type='ATSSAssigner', topk=9), allowed_border=-1,
                   pos_weight=-1, debug=False),
    test_cfg=dict(nms_pre=1000, min_bbox_size=0, score_thr=0.05,
                  nms=dict(type='nms', iou_threshold=0.6), max_per_img=100),
    # the launch tools set the checkpoint (or --cfg-options model.init_cfg.checkpoint=...)
    init_cfg=dict(type='MIMPretrained', checkpoint=None, submodule='backbone'))
find_unused_parameters = True

max_epochs = 25
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='AmpOptimWrapper', dtype='float16', loss_scale=dict(init_scale=512),
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='mmmim.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=1.0, no_decay_1d=False, no_decay_norms='backbone',
                       no_decay_names=('pos_embed', 'bias', 'in_proj_bias',
                                       'relative_position_bias_table')))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=2000),
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min_ratio=0.01, by_epoch=True,
         begin=0, end=max_epochs),
]
default_hooks = dict(checkpoint=dict(interval=5))
auto_scale_lr = dict(enable=False, base_batch_size=16)
