# LocalMIM's Swin-B fine-tuning after its 400-epoch pretraining (official
# Swin/README.md and run_finetune.py defaults): SimMIM Swin-B's classifier (224 px,
# window 7, drop path 0.1, RandAugment, mixup / cutmix, random erasing 0.25, label
# smoothing 0.1) with batch 1024 (8 GPUs x 128), AdamW lr 4e-3, layer decay 0.9,
# wd 0.05, 20 warm-up epochs, cosine to 2.5e-7, 100 epochs. The official HOG
# checkpoint used twice the batch at the same lr: add
# `optim_wrapper.accumulative_counts=2`; after 100-epoch pretraining see the `-pt100e`
# config.
_base_ = ['./swin-base-w7_8xb256-ft-ld0.9-coslr-100e_in1k.py']

train_dataloader = dict(batch_size=128)
optim_wrapper = dict(optimizer=dict(lr=4e-3), paramwise_cfg=dict(layer_decay_rate=0.9))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=20,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=80, by_epoch=True, begin=20, end=100,
         eta_min=2.5e-7, convert_to_iter_based=True),
]
auto_scale_lr = dict(base_batch_size=1024)
