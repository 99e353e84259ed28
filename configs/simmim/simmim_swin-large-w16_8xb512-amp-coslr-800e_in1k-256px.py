# SimMIM Swin-L at 256 px, 800 epochs, as the UM-MAE paper's baseline (85.4 top-1):
# the Swin-T paper baseline (random 75% of 16-px units, window 16, full grid, L1)
# with UM-MAE Swin-L's encoder, data, batch and schedule.
_base_ = '../ummae/ummae_swin-large-w8_8xb512-amp-coslr-800e_in1k-256px.py'
model = dict(
    masker=dict(_delete_=True, type='RandomMasker', ratio=0.75, unit_size=16),
    encoder=dict(window_size=16, masking='mask_token', secondary_token=False),
    decoder=dict(_delete_=True, type='SimMIMDecoder', stride=32),
    target=dict(patch_size=16, normalize=False),
    loss=dict(criterion='l1'))
