# SimMIM Swin-B, 100 epochs at 192 px: SimMIM's own recipe (as mmpretrain's
# simmim_swin-base-w6_8xb256-amp-coslr-100e_in1k-192px): batch 2048, AdamW lr 2e-4
# per 512, betas (0.9, 0.999), gradient clipping 5, 10 warm-up epochs, cosine to
# 1e-5 per 512; RandomResizedCrop 0.67-1 + flip.
_base_ = [
    '../_base_/models/simmim_swin-base-w6.py',
    '../_base_/datasets/imagenet_pretrain.py',
    '../_base_/schedules/adamw_coslr_pretrain.py',
    '../_base_/default_runtime.py',
]
image_size = 192
# the base's pipeline, its crop (the first step) at image_size and 67-100% of the area
train_pipeline = [
    dict(_base_.train_pipeline[0], scale=image_size, crop_ratio_range=(0.67, 1.0)),
    *_base_.train_pipeline[1:]]
train_dataloader = dict(batch_size=256, dataset=dict(pipeline=train_pipeline))

base_batch_size = 2048
optim_wrapper = dict(
    type='GuardedAmpOptimWrapper', dtype='auto', loss_scale='dynamic',
    optimizer=dict(lr=2e-4 * base_batch_size / 512, betas=(0.9, 0.999)),
    clip_grad=dict(max_norm=5.0),
    paramwise_cfg=dict(custom_keys={
        'relative_position_bias_table': dict(decay_mult=0.),
        'absolute_pos_embed': dict(decay_mult=0.)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6 / 2e-4, by_epoch=True, begin=0, end=10,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5 * base_batch_size / 512,
         by_epoch=True, begin=10, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=100)
auto_scale_lr = dict(base_batch_size=base_batch_size)
