# The bundled demo photographs (scikit-image's, written to data/demo by
# tools/dataset_converters/prepare_demo_images.py) at 128 px: the pretraining
# pipeline of imagenet_pretrain.py at a small size.
_base_ = './imagenet_pretrain.py'

image_size = 128
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
