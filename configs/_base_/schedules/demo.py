# A short schedule for the demo configs: 300 epochs over the 16 demo training
# photographs (600 iterations at batch 8), AdamW at lr 2e-3 (a small model and a
# small batch take a large lr; the ImageNet rule 1.5e-4 x 8 / 256 would be 4.7e-6),
# 15 warm-up epochs, cosine. fp32: on the CPU, bf16 autocast made these small models
# 4-6x slower (measured with tools/analysis_tools/benchmark_pretrain.py --amp).
_base_ = './adamw_coslr_pretrain.py'

optim_wrapper = dict(optimizer=dict(lr=2e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=15,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=15,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=300)
auto_scale_lr = dict(base_batch_size=8)
