# The README's main job: a short UM-MAE pyramid pretraining (a small Swin on the
# compact grid) on the bundled demo photographs, about two minutes on 2 CPU cores.
# The target is unnormalized pixels, so a reconstruction needs nothing borrowed from
# the masked units; reconstruction figures land in work_dir/reconstructions/.
_base_ = [
    '../_base_/models/ummae_swin-tiny-w8.py',
    '../_base_/datasets/demo.py',
    '../_base_/schedules/demo.py',
    '../_base_/demo_runtime.py',
]

# 128 px: 8x8 units -> a 64 px-equivalent compact grid, stages 16/8/4/2
model = dict(
    encoder=dict(
        arch=dict(_delete_=True, embed_dims=48, depths=[1, 1, 2, 1], num_heads=[2, 4, 8, 16]),
        img_size={{_base_.image_size}}, window_size=4),
    decoder=dict(dims=128, depth=2, num_heads=4),
    target=dict(normalize=False))
