# LocalMIM's ViT-B/16 fine-tuning after its 1600-epoch pretraining (official
# ViT/README.md): the MAE / PixMIM recipe (lr 2e-3 for batch 1024, layer decay 0.65,
# drop path 0.1, RandAugment, mixup / cutmix, random erasing 0.25, label smoothing
# 0.1, 100 epochs) with 20 warm-up epochs and cosine to a minimum lr of 1e-5.
_base_ = ['./vit-base-p16_8xb128-ft-ld0.65-coslr-100e_in1k.py']

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=20,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=80, by_epoch=True, begin=20, end=100, eta_min=1e-5,
         convert_to_iter_based=True),
]
