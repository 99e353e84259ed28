# UM-MAE Swin-T at 256 px: uniform masking (one visible 16-px unit per 2x2 window,
# 25% of the visible ones secondary-masked), Swin on the compact grid (window 8 =
# 64x64 px), decoder 512-d x 2 blocks, per-unit normalized pixels, MSE on the
# primarily masked units. The official UM-MAE init (xavier-uniform Linears and
# stage-1 patch embedding, fan-out normal convs; mmmim/models/encoders/weight_init.py).
_base_ = './pretrain_data_preprocessor.py'  # model.data_preprocessor (mean / std)
model = dict(
    type='MaskedImageModel',
    masker=dict(type='UniformMasker', unit_size=16, secondary_ratio=0.25),
    encoder=dict(type='MaskedSwin', arch='tiny', img_size=256, window_size=8,
                 masking='compact', secondary_token=True, weight_init='ummae'),
    decoder=dict(type='UMMAEDecoder', dims=512, depth=2, num_heads=16),
    target=dict(type='PixelTarget', patch_size=16, normalize=True),
    loss=dict(type='MaskedReconstructionLoss', criterion='mse'),
)
