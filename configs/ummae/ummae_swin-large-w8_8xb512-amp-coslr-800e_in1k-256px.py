# UM-MAE Swin-L, 800 epochs: Swin-T's recipe with the large encoder, an 8-block
# decoder and 40 warm-up epochs; 8 GPUs x 64 images x 8 accumulation steps (the
# official Makefile's micro-batch).
_base_ = './ummae_swin-tiny-w8_8xb512-amp-coslr-200e_in1k-256px.py'
model = dict(encoder=dict(arch='large'), decoder=dict(depth=8))
train_dataloader = dict(batch_size=64)
optim_wrapper = dict(accumulative_counts=8)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=40,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=40,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=800)
