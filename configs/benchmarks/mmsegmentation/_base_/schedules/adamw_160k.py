# 160k iterations (mmseg's schedule and runtime), AdamW with mmmim's layer-wise lr
# decay (no weight decay on norms, biases, positions, tokens, relative position
# tables; every parameter group logged), linear warm-up from 1e-6 over 1500
# iterations, then poly (power 1) to 0. Configs set lr, weight decay and the decay
# rate. Mixed precision: pass --amp to our train tool (mmseg's old
# `fp16 = dict(...)` does nothing in mmseg 1.x).
_base_ = ['mmseg::_base_/default_runtime.py', 'mmseg::_base_/schedules/schedule_160k.py']

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='mmmim.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=1.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=1500, end=160000, by_epoch=False),
]
auto_scale_lr = dict(enable=False, base_batch_size=16)
