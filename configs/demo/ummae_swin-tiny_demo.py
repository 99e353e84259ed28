# The README's main job: a short UM-MAE pyramid pretraining (a small Swin on the
# compact grid) on the bundled demo photographs (data/demo, written by
# tools/dataset_converters/prepare_demo_images.py). About a minute on 2 CPU cores;
# leaves checkpoints and a log in the work dir.
_base_ = [
    '../_base_/models/ummae_swin-tiny-w8.py',
    '../_base_/datasets/imagenet_pretrain.py',
    '../_base_/schedules/adamw_coslr_pretrain.py',
    '../_base_/default_runtime.py',
]

image_size = 128  # 8x8 units -> a 64 px-equivalent compact grid: stages 16/8/4/2
model = dict(
    encoder=dict(
        arch=dict(_delete_=True, embed_dims=48, depths=[1, 1, 2, 1], num_heads=[2, 4, 8, 16]),
        img_size=image_size, window_size=4),
    decoder=dict(dims=128, depth=2, num_heads=4))

train_pipeline = [
    dict(type='LoadImageSafely'),
    dict(type='RandomResizedCrop', scale=image_size, crop_ratio_range=(0.2, 1.0),
         backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=8, num_workers=2,
    dataset=dict(data_root='data/demo', data_prefix='', pipeline=train_pipeline))

# fp32 (CPU); tools/train.py --amp turns on bf16 / fp16
optim_wrapper = dict(optimizer=dict(lr=1.5e-4 * 8 / 256 * 10))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=95, by_epoch=True, begin=5, end=100,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=100)
auto_scale_lr = dict(base_batch_size=8)
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(interval=25, max_keep_ckpts=2))
