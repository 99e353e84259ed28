# ViTDet's 100-epoch LSJ schedule by iterations: 184375 x 64 images = 100 COCO epochs;
# linear warm-up over 250 iterations, lr x 0.1 at 163889 (88 ep) and 177546 (96 ep);
# validation and checkpoints every 5000 iterations and at the end.
_base_ = 'mmdet::_base_/default_runtime.py'

max_iters = 184375
interval = 5000
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=interval,
                 dynamic_intervals=[(max_iters // interval * interval + 1, max_iters)])
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=250),
    dict(type='MultiStepLR', begin=0, end=max_iters, by_epoch=False,
         milestones=[163889, 177546], gamma=0.1),
]
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(by_epoch=False, interval=interval, save_last=True, max_keep_ckpts=5))
log_processor = dict(window_size=50, by_epoch=False)
auto_scale_lr = dict(base_batch_size=64)
