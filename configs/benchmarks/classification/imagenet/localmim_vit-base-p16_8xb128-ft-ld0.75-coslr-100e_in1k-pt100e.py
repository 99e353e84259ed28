# LocalMIM's ViT-B/16 fine-tuning after its 100-epoch pretraining (official
# ViT/README.md): the 1600-epoch checkpoint's recipe with lr 4e-3 for batch 1024,
# layer decay 0.75 and a minimum lr of 1e-6 (20 warm-up epochs kept).
_base_ = ['./localmim_vit-base-p16_8xb128-ft-ld0.65-coslr-100e_in1k.py']

optim_wrapper = dict(optimizer=dict(lr=4e-3), paramwise_cfg=dict(layer_decay_rate=0.75))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=20,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=80, by_epoch=True, begin=20, end=100, eta_min=1e-6,
         convert_to_iter_based=True),
]
