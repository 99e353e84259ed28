# PixMIM on UM-MAE PVT-S, 200 epochs at 256 px: UM-MAE's recipe with PixMIM's two
# changes (a combination no published code has).
_base_ = '../ummae/ummae_pvt-small_8xb512-amp-coslr-200e_in1k-256px.py'

# radius 40 bins at 224 px = 45.7 bins at 256 px (the same cut-off in cycles/pixel)
model = dict(target=dict(filters=[dict(type='LowPassFilter', radius=40, reference_size=224,
                                       output='magnitude')]))

train_pipeline = [
    dict(type='LoadImageSafely'),
    dict(type='ConservativeCrop', crop_size=256, padding=4, interpolation='bicubic',
         backend='pillow'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
