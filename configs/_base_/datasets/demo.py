# The bundled demo photographs (scikit-image's, written to data/demo by
# tools/dataset_converters/prepare_demo_images.py; the held-out ones to
# data/demo_heldout) at 64 px: the pretraining pipeline of imagenet_pretrain.py at a
# small size, plus colour jitter (hue included): 13 of the 16 training photographs
# are grey or nearly so, and without it the model learns their palette instead of
# carrying the visible colours into the masked units. The decoded photographs are kept
# in memory (16 of them): decoding them again for every crop took longer than the step.
_base_ = ['./imagenet_pretrain.py', '../heldout_check.py']

image_size = 64
train_pipeline = [
    dict(type='LoadImageSafely', cache_images=64),
    dict(type='RandomResizedCrop', scale=image_size, crop_ratio_range=(0.2, 1.0),
         backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4, hue=0.5),
    dict(type='PackInputs'),
]
# one loader worker: on 2 cores, more workers and torch's 2 threads oversubscribe them;
# a batch is the whole training set (16 photographs), one iteration per epoch; no
# pinned memory (a CPU run: torch would warn that no accelerator is found)
train_dataloader = dict(
    batch_size=16, num_workers=1, pin_memory=False,
    dataset=dict(data_root='data/demo', data_prefix='', pipeline=train_pipeline))
# the held-out check (../heldout_check.py) on the 3 held-out photographs, one batch;
# the demo configs run it every 100 epochs (train_cfg.val_interval)
val_dataloader = dict(
    batch_size=8, num_workers=0,
    dataset=dict(data_root='data/demo_heldout', pipeline=[
        dict(type='LoadImageSafely'),
        dict(type='ResizeEdge', scale=image_size, edge='short', backend='pillow',
             interpolation='bicubic'),
        dict(type='CenterCrop', crop_size=image_size),
        dict(type='PackInputs'),
    ]))
