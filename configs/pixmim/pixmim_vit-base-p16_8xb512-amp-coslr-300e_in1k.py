# PixMIM on MAE ViT-B/16, 300 epochs: MAE's recipe with a low-pass filtered target and
# the conservative crop (Liu et al., arXiv 2303.02416).
_base_ = '../mae/mae_vit-base-p16_8xb512-amp-coslr-400e_in1k.py'

# ideal circular low-pass, radius 40 bins at 224 px (~10% of the bins), magnitude of
# the inverse FFT as the PixMIM code (the real part: the `-real` config), then MAE's
# per-patch normalization; mean/std come from the data preprocessor
model = dict(target=dict(filters=[dict(type='LowPassFilter', radius=40, reference_size=224,
                                       output='magnitude')]))

# resize the shorter side to 224, random 224 crop with 4-px reflect padding, flip
train_pipeline = [
    dict(type='LoadImageSafely'),
    dict(type='ConservativeCrop', crop_size=224, padding=4, interpolation='bicubic',
         backend='pillow'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

train_cfg = dict(max_epochs=300)
