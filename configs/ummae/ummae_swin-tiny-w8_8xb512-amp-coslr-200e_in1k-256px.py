# UM-MAE Swin-T, 200 epochs at 256 px, batch 4096 = 8 GPUs x 128 images x 4
# accumulation steps (the official Makefile's micro-batch), AMP; AdamW base lr 1.5e-4
# per 256, 10 warm-up epochs, cosine.
_base_ = [
    '../_base_/models/ummae_swin-tiny-w8.py',
    '../_base_/datasets/imagenet_pretrain_256.py',
    '../_base_/schedules/adamw_coslr_pretrain.py',
    '../_base_/default_runtime.py',
]
train_dataloader = dict(batch_size=128)
optim_wrapper = dict(
    type='GuardedAmpOptimWrapper', dtype='auto', loss_scale='dynamic', accumulative_counts=4,
    paramwise_cfg=dict(custom_keys={
        'relative_position_bias_table': dict(decay_mult=0.),
        'absolute_pos_embed': dict(decay_mult=0.)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=10,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=10,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=200)
