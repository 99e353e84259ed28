# UM-MAE ViT-B/16, 200 epochs at 224 px: MAE's recipe with uniform masking plus
# secondary masking (no compaction for ViT: the encoder gathers the 49 visible
# patches, 13 of them secondary-masked as the official code), a 2-block decoder and 10
# warm-up epochs; 8 GPUs x 128 images x 4 accumulation steps (the official Makefile's
# micro-batch).
_base_ = '../mae/mae_vit-base-p16_8xb512-amp-coslr-200e_in1k.py'
train_dataloader = dict(batch_size=128)
optim_wrapper = dict(accumulative_counts=4)
model = dict(
    masker=dict(_delete_=True, type='UniformMasker', unit_size=16, secondary_ratio=0.25),
    encoder=dict(secondary_token=True),
    decoder=dict(depth=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=10,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=10,
         convert_to_iter_based=True),
]
