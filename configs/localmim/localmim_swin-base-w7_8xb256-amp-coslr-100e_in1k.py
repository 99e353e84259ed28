# LocalMIM Swin-B (window 7, HOG), 100 epochs at 224 px, 8 GPUs x 256 = batch 2048,
# AMP; AdamW base lr 1e-4 per 256, 10 warm-up epochs, cosine per iteration.
_base_ = [
    '../_base_/models/localmim_swin-base-w7.py',
    '../_base_/datasets/imagenet_pretrain.py',
    '../_base_/schedules/adamw_coslr_pretrain.py',
    '../_base_/default_runtime.py',
]
train_dataloader = dict(batch_size=256)
base_batch_size = 2048
optim_wrapper = dict(
    type='GuardedAmpOptimWrapper', dtype='auto', loss_scale='dynamic',
    optimizer=dict(lr=1e-4 * base_batch_size / 256),
    paramwise_cfg=dict(custom_keys={
        'relative_position_bias_table': dict(decay_mult=0.),
        'absolute_pos_embed': dict(decay_mult=0.)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=10,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=10,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=100)
auto_scale_lr = dict(base_batch_size=base_batch_size)
