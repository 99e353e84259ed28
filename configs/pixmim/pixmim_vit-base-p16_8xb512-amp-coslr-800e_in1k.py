# PixMIM ViT-B/16, 800 epochs: the 300-epoch recipe with its schedule only changed.
_base_ = './pixmim_vit-base-p16_8xb512-amp-coslr-300e_in1k.py'
train_cfg = dict(max_epochs=800)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=40,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=760, by_epoch=True, begin=40, end=800,
         convert_to_iter_based=True),
]
