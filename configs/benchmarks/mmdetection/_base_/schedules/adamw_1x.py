# 1x: 12 epochs, linear warm-up over 1000 iterations (x0.001), lr x0.1 at epochs 8
# and 11; AdamW (lr / wd set by each config) through mmmim's layer-decay
# constructor, which logs every parameter group; weight decay as mmdet's Swin recipe
# (below; PVT configs decay everything, as the official PVT). A config without a
# layer decay in its recipe keeps layer_decay_rate=1.0 (all groups at the base lr).
_base_ = 'mmdet::_base_/schedules/schedule_1x.py'

optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='mmmim.LayerDecayOptimWrapperConstructor',
    # weight decay as mmdet's Swin: 0 for norm layers, absolute_pos_embed and
    # relative_position_bias_table; biases decayed
    paramwise_cfg=dict(layer_decay_rate=1.0, no_decay_1d=False, no_decay_norms='all',
                       no_decay_names=('absolute_pos_embed',
                                       'relative_position_bias_table')))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True, milestones=[8, 11], gamma=0.1),
]
