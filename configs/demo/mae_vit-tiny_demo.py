# A short MAE pretraining on the bundled demo photographs (scikit-image's, written
# to data/demo by tools/dataset_converters/prepare_demo_images.py). A few minutes
# on 2 CPU cores; leaves checkpoints and a log in the work dir.
_base_ = [
    '../_base_/models/mae_vit-base-p16.py',
    '../_base_/datasets/imagenet_pretrain.py',
    '../_base_/schedules/adamw_coslr_pretrain.py',
    '../_base_/default_runtime.py',
]

image_size = 96
model = dict(
    encoder=dict(arch=dict(_delete_=True, embed_dims=192, num_layers=4, num_heads=3,
                           feedforward_channels=768),
                 img_size=image_size),
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
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=2,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=18, by_epoch=True, begin=2, end=20,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=20)
auto_scale_lr = dict(base_batch_size=8)
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(interval=5, max_keep_ckpts=2))
