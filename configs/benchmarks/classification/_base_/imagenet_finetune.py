# ImageNet-1K for end-to-end fine-tuning (MAE / PixMIM / UM-MAE recipe):
# RandomResizedCrop (bicubic) + flip + RandAugment (m9, std 0.5, 2 ops, timm's
# increasing policies) + random erasing 0.25; mixup / cutmix live in the model's
# train_cfg. Test: short side 256 (bicubic), centre crop 224.
_base_ = ['./imagenet_linear.py']

bgr_mean = [103.53, 116.28, 123.675]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale={{_base_.image_size}}, backend='pillow',
         interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandAugment', policies='timm_increasing', num_policies=2, total_level=10,
         magnitude_level=9, magnitude_std=0.5,
         hparams=dict(pad_val=[round(x) for x in bgr_mean], interpolation='bicubic')),
    dict(type='RandomErasing', erase_prob=0.25, mode='rand', min_area_ratio=0.02,
         max_area_ratio=1 / 3, fill_color=bgr_mean, fill_std=[57.375, 57.12, 58.395]),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=128, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=128)
test_dataloader = val_dataloader
