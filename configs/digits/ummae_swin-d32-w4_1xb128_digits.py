# UM-MAE on the digits: the 3-stage Swin (32/64/128-d, patch 2, window 4) on UM-MAE's
# compact grid (one visible 4-px unit per 2x2 window, 25% of them secondary-masked),
# UM-MAE's decoder (64-d, 2 blocks) and init, per-unit normalized pixels.
_base_ = ['../_base_/models/ummae_swin-tiny-w8.py', './_base_/digits.py']
model = dict(
    masker=dict(unit_size=4),
    encoder=dict(arch=dict(_base_.swin_tiny, _delete_=True), img_size=_base_.image_size,
                 patch_size=2, window_size=4, out_indices=(2,)),
    decoder=dict(dims=64, depth=2, num_heads=4),
    target=dict(patch_size=4))
