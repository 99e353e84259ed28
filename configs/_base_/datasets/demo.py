# The bundled demo photographs (scikit-image's, written to data/demo by
# tools/dataset_converters/prepare_demo_images.py; the held-out ones to
# data/demo_heldout) at 128 px: the pretraining pipeline of imagenet_pretrain.py at a
# small size.
_base_ = './imagenet_pretrain.py'

image_size = 128
train_pipeline = [
    dict(type='LoadImageSafely'),
    dict(type='RandomResizedCrop', scale=image_size, crop_ratio_range=(0.2, 1.0),
         backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackInputs'),
]
# one loader worker: on 2 cores, more workers and torch's 2 threads oversubscribe them
train_dataloader = dict(
    batch_size=8, num_workers=1,
    dataset=dict(data_root='data/demo', data_prefix='', pipeline=train_pipeline))
