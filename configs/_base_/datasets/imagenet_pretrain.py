# ImageNet-style pretraining data: class subfolders, an annotation list
# (`ann_file`), or a plain folder of unlabeled images (searched recursively).
# Labels are never used in pretraining.
dataset_type = 'ImageFolder'
data_root = 'data/imagenet/'
image_size = 224

train_pipeline = [
    dict(type='LoadImageSafely'),
    dict(type='RandomResizedCrop', scale=image_size, crop_ratio_range=(0.2, 1.0),
         backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=512,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='ResumableSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type=dataset_type, data_root=data_root, data_prefix='train',
                 pipeline=train_pipeline),
)
