# A short schedule for the demo configs: 100 epochs over the 19 demo photographs
# (about 300 iterations at batch 8), fp32 on CPU (tools/train.py --amp for bf16 / fp16).
_base_ = './adamw_coslr_pretrain.py'

optim_wrapper = dict(optimizer=dict(lr=1.5e-4 * 8 / 256 * 10))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=5,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=100)
auto_scale_lr = dict(base_batch_size=8)
