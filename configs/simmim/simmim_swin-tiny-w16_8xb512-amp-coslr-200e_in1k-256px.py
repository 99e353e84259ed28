# SimMIM Swin-T at 256 px as the UM-MAE paper's baseline (the "SimMIM 100%" rows
# its 2x-faster claim compares with: 82.20 top-1 after 200 epochs, 49.3 h): a random
# 75% of the 16-px units masked by mask tokens on the full grid, Swin window 16 (the
# fine-tuning window: 64x64 px), a linear decoder from the stride-32 map predicting
# each token's 2x2 units, L1 on masked pixels. Data, batch and schedule of UM-MAE
# Swin-T.
_base_ = '../ummae/ummae_swin-tiny-w8_8xb512-amp-coslr-200e_in1k-256px.py'
model = dict(
    masker=dict(_delete_=True, type='RandomMasker', ratio=0.75, unit_size=16),
    encoder=dict(window_size=16, masking='mask_token', secondary_token=False),
    decoder=dict(_delete_=True, type='SimMIMDecoder', stride=32),
    target=dict(patch_size=16, normalize=False),
    loss=dict(criterion='l1'))
