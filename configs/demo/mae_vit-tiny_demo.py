# The README's main job: a short MAE pretraining of a small ViT on the bundled demo
# photographs, about two minutes on 2 CPU cores. The target is unnormalized pixels, so
# a reconstruction needs nothing borrowed from the masked units; figures land in
# work_dir/reconstructions/.
_base_ = [
    '../_base_/models/mae_vit-base-p16.py',
    '../_base_/datasets/demo.py',
    '../_base_/schedules/demo.py',
    '../_base_/demo_runtime.py',
]

# 64 px in 8-px units: 8x8 units, 16 of them visible; one patch per unit (the
# decoder takes its unit from the masker)
unit_size = 8
model = dict(
    masker=dict(unit_size=unit_size),
    encoder=dict(arch=dict(_delete_=True, embed_dims=192, num_layers=4, num_heads=3,
                           feedforward_channels=768),
                 img_size={{_base_.image_size}}, patch_size=unit_size),
    decoder=dict(dims=128, depth=2, num_heads=4),
    target=dict(patch_size=unit_size, normalize=False))
# the held-out check (configs/_base_/heldout_check.py) every 100 epochs
train_cfg = dict(val_interval=100)
