# ImageNet pretraining data at 256 px (pyramid encoders: every stage of the compact
# grid divides evenly). Only the input size differs from imagenet_pretrain.py.
_base_ = './imagenet_pretrain.py'

image_size = 256
train_pipeline = [
    dict(type='LoadAndRandomResizedCrop', scale=image_size, crop_ratio_range=(0.2, 1.0),
         interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
