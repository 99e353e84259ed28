# ImageNet-style pretraining data: class subfolders, an annotation list
# (`ann_file`), or a plain folder of unlabeled images (searched recursively).
# Labels are never used in pretraining.
dataset_type = 'ImageFolder'
data_root = 'data/imagenet/'
image_size = 224

# LoadAndRandomResizedCrop (mmmim/datasets/fast_crop.py) is LoadImageSafely followed by
# mmpretrain's RandomResizedCrop(backend='pillow'): the same crop draws and BGR uint8
# output, but the crop is drawn from the JPEG header's size and the JPEG decoded at the
# largest DCT reduction (1/2, 1/4, 1/8) that keeps the crop at least image_size pixels;
# 41 dB PSNR or better against the full decode. reduce=False, resize_backend='pillow'
# gives the old pipeline's pixels exactly.
train_pipeline = [
    dict(type='LoadAndRandomResizedCrop', scale=image_size, crop_ratio_range=(0.2, 1.0),
         interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackInputs'),
]

# batch_size is per GPU (per process): the micro-batch of one iteration. A config's name
# states the total batch of its recipe as GPUs x per-GPU batch (8xb512 = 4096); a config
# whose micro-batch is smaller sets optim_wrapper.accumulative_counts to make up the rest
# (GPUs x batch_size x accumulative_counts = the named total; tests/test_configs_batch.py).
# pin_memory: pinned batches, copied to the GPU without blocking (the model's data
# preprocessor has non_blocking=True); it does nothing without a GPU.
train_dataloader = dict(
    batch_size=512,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='ResumableSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type=dataset_type, data_root=data_root, data_prefix='train',
                 pipeline=train_pipeline),
)
