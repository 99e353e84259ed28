# SimMIM Swin-B, 800 epochs at 192 px: the 100-epoch recipe with SimMIM's 800-epoch
# schedule (lr 1e-4 per 512, warm-up from 5e-7 over 10 epochs, step x0.1 at 700).
_base_ = './simmim_swin-base-w6_8xb256-amp-coslr-100e_in1k-192px.py'
optim_wrapper = dict(optimizer=dict(lr=1e-4 * 2048 / 512))
param_scheduler = [
    dict(type='LinearLR', start_factor=5e-7 / 1e-4, by_epoch=True, begin=0, end=10,
         convert_to_iter_based=True),
    dict(type='MultiStepLR', milestones=[700], by_epoch=True, begin=10,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=800)
