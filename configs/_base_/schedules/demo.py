# A short schedule for the demo configs: 1000 epochs over the 16 demo training
# photographs (1000 iterations at batch 16), AdamW at lr 2e-3 (a small model and a
# small batch take a large lr; the ImageNet rule 1.5e-4 x 16 / 256 would be 9.4e-6),
# 25 warm-up epochs, cosine. fp32: on the CPU, bf16 autocast made these small models
# 4-6x slower (measured with tools/analysis_tools/benchmark_pretrain.py --amp).
_base_ = './adamw_coslr_pretrain.py'

optim_wrapper = dict(optimizer=dict(lr=2e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=25,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=25,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=1000)
auto_scale_lr = dict(base_batch_size=16)
