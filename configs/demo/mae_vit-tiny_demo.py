# A short MAE pretraining of a small ViT on the bundled demo photographs, about two
# minutes on 2 CPU cores. The target is unnormalized pixels, so a reconstruction needs
# nothing borrowed from the masked units; figures land in work_dir/reconstructions/.
_base_ = [
    '../_base_/models/mae_vit-base-p16.py',
    '../_base_/datasets/demo.py',
    '../_base_/schedules/demo.py',
    '../_base_/demo_runtime.py',
]

model = dict(
    encoder=dict(arch=dict(_delete_=True, embed_dims=192, num_layers=4, num_heads=3,
                           feedforward_channels=768),
                 img_size={{_base_.image_size}}),
    decoder=dict(dims=128, depth=2, num_heads=4),
    target=dict(normalize=False))
