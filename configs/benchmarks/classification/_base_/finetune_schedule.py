# Fine-tuning schedule shared by the benchmarks (MAE / PixMIM / UM-MAE): AdamW with
# layer-wise lr decay, lr 2e-3 for batch 1024 (5e-4 per 256), wd 0.05, betas
# (0.9, 0.999), 5 warm-up epochs then cosine to 1e-6, 100 epochs; mmmim's runtime.
# Evaluated every 5 epochs; the number to report is the last epoch's (as MAE and the
# OpenMMLab metafiles do), so no best checkpoint is kept: epoch_100.pth is (keep 2).
_base_ = ['../../../_base_/default_runtime.py']

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=5e-4 * 1024 / 256, weight_decay=0.05, betas=(0.9, 0.999)),
    constructor='LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.65))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=5, eta_min=1e-6,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=100, val_interval=5)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=1024)

default_hooks = dict(
    logger=dict(interval=100),
    checkpoint=dict(interval=5, max_keep_ckpts=2))
