# ViTDet Mask R-CNN with a ViT-B/16 from an mmmim pretraining checkpoint (MAE family:
# MAE, PixMIM, UM-MAE, LocalMIM ViT-B), COCO, LSJ 1024, 100 epochs at ViTDet's batch of
# 64 = 16 GPUs x 4 (auto_scale_lr.base_batch_size): launch 16 processes (on 8 GPUs,
# the -8xb8- variant). On the launcher's default 8 it is 50 epochs at twice the lr
# per image; the train-setup report warns.
# Target: 51.6 box AP / 45.9 mask AP (detectron2 projects/ViTDet README, ViT-B with
# MAE IN-1K pretraining); mmdet's projects/ViTDet re-run gives 51.6 / 45.7.
# Backbone: plain ViT, windows of 14 x 14 patches in 8 of 12 blocks, blocks 3/6/9/12
# global, decomposed relative positions (zero init), 224-px position grid resized at
# forward, drop path 0.1. Neck: simple feature pyramid from the last stride-16 map
# (strides 4..32, P6 by subsampling), LayerNorm. Heads: 2-conv RPN, 4conv1fc box head
# and mask head with LayerNorm. AdamW lr 1e-4 wd 0.1, layer decay 0.7, AMP.
# The checkpoint is loaded at the detector level (the shared Mask R-CNN base):
# model.init_cfg.checkpoint=PRETRAIN (tools/benchmarks/mmdetection/mim_dist_train.sh
# sets it); the load report goes to the log.
# On a CPU: --cfg-options optim_wrapper.type=OptimWrapper (AMP needs a GPU).
# docs/downstream_vitdet.md compares every item with ViTDet.
_base_ = [
    '../_base_/models/mask-rcnn_fpn.py',
    '../_base_/datasets/coco_instance_lsj-1024.py',
    '../_base_/schedules/lsj-100e.py',
]
custom_imports = dict(imports=['mmmim.models', 'mmmim.converters', 'mmmim.engine'],
                      allow_failed_imports=False)

norm_cfg = dict(type='mmpretrain.LN2d', eps=1e-6)   # LayerNorm over channels
model = dict(
    data_preprocessor=dict(batch_augments=[
        dict(type='BatchFixedSizePad', size={{_base_.image_size}}, pad_mask=True)]),
    backbone=dict(
        type='mmmim.ViTDetBackbone', arch='b', img_size=1024,
        pretrain_img_size=224, patch_size=16, window_size=14, global_indices=(2, 5, 8, 11),
        use_rel_pos=True, drop_path_rate=0.1, with_cp=False),
    neck=dict(
        _delete_=True, type='mmmim.SimpleFeaturePyramid', in_channels=768, out_channels=256,
        scale_factors=(4.0, 2.0, 1.0, 0.5), num_outs=5, norm_cfg=norm_cfg),
    rpn_head=dict(num_convs=2),
    roi_head=dict(
        bbox_head=dict(type='Shared4Conv1FCBBoxHead', conv_out_channels=256,
                       norm_cfg=norm_cfg),
        mask_head=dict(norm_cfg=norm_cfg)))

optim_wrapper = dict(
    type='AmpOptimWrapper',
    constructor='mmmim.LayerDecayOptimWrapperConstructor',
    # weight decay as detectron2's ViTDet: 0 only for the backbone's norm layers and
    # pos_embed; biases, rel_pos_h/w and the neck / head LayerNorms decayed at 0.1
    paramwise_cfg=dict(layer_decay_rate=0.7, no_decay_1d=False,
                       no_decay_names=('pos_embed',), no_decay_norms='backbone'),
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.1))
