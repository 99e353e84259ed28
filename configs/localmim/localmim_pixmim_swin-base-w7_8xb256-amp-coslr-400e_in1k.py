# LocalMIM Swin-B (pixels) with PixMIM's two changes, 400 epochs: the 100-epoch
# config with LocalMIM's 400-epoch schedule (40 warm-up epochs).
_base_ = './localmim_pixmim_swin-base-w7_8xb256-amp-coslr-100e_in1k.py'
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=40,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=360, by_epoch=True, begin=40, end=400,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=400)
