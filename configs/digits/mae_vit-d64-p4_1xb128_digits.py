# MAE on the digits (configs/digits/_base_/digits.py): the 64-d 4-block ViT (patch 4),
# 75% random masking of 4-px units, 64-d 2-block decoder, per-unit normalized pixels.
_base_ = ['../_base_/models/mae_vit-base-p16.py', './_base_/digits.py']
model = dict(
    masker=dict(unit_size=4),
    encoder=dict(arch=dict(_base_.vit_tiny, _delete_=True), img_size=_base_.image_size,
                 patch_size=4),
    decoder=dict(dims=64, depth=2, num_heads=4),
    target=dict(patch_size=4))
