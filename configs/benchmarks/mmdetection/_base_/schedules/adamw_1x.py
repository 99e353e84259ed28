# 1x: 12 epochs, linear warm-up over 1000 iterations (x0.001), lr x0.1 at epochs 8
# and 11; AdamW (lr / wd set by each config) through mmmim's layer-decay
# constructor, which logs every parameter group and puts no weight decay on norms,
# biases, position embeddings and relative position bias tables. A config without a
# layer decay in its recipe keeps layer_decay_rate=1.0 (all groups at the base lr).
_base_ = 'mmdet::_base_/schedules/schedule_1x.py'

optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=1.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True, milestones=[8, 11], gamma=0.1),
]
