# LocalMIM ViT-B/16, 1600 epochs: the 100-epoch recipe with 40 warm-up epochs.
_base_ = './localmim_vit-base-p16_8xb256-amp-coslr-100e_in1k.py'
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=40,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=40,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=1600)
