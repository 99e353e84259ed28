# A short UM-MAE pyramid pretraining (a small Swin on the compact grid) on the bundled
# demo photographs, about two minutes on 2 CPU cores. The target is unnormalized
# pixels, so a reconstruction needs nothing borrowed from the masked units;
# reconstruction figures land in work_dir/reconstructions/.
_base_ = [
    '../_base_/models/ummae_swin-tiny-w8.py',
    '../_base_/datasets/demo.py',
    '../_base_/schedules/demo.py',
    '../_base_/demo_runtime.py',
]

# 64 px: 8x8 units of 8 px -> a 32 px compact grid, three stages of 8/4/2 tokens (the
# last one 2x2: one token per 2x2 windows of units, as UM-MAE's decoder expects; the
# decoder takes its unit from the masker)
unit_size = 8
model = dict(
    masker=dict(unit_size=unit_size),
    encoder=dict(
        arch=dict(_delete_=True, embed_dims=96, depths=[1, 1, 2], num_heads=[3, 6, 12]),
        img_size={{_base_.image_size}}, window_size=4, out_indices=(2,)),
    decoder=dict(dims=128, depth=2, num_heads=4),
    target=dict(patch_size=unit_size, normalize=False))
# the held-out check (configs/_base_/heldout_check.py) every 100 epochs
train_cfg = dict(val_interval=100)
