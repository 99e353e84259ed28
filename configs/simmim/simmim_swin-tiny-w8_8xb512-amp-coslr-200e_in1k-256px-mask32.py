# SimMIM Swin-T at 256 px with SimMIM's own masking (60% of 32-px units, window 8):
# UM-MAE Swin-T's data, batch and schedule, with SimMIM's model (mask tokens on the
# full grid, linear decoder, L1 on masked pixels). Not the baseline of the UM-MAE
# paper's tables: that is simmim_swin-tiny-w16_..._256px.py (75% of 16-px units,
# window 16).
_base_ = '../ummae/ummae_swin-tiny-w8_8xb512-amp-coslr-200e_in1k-256px.py'
model = dict(
    masker=dict(_delete_=True, type='BlockMasker', ratio=0.6, unit_size=32),
    encoder=dict(masking='mask_token', secondary_token=False),
    decoder=dict(_delete_=True, type='SimMIMDecoder'),
    target=dict(patch_size=32, normalize=False),
    loss=dict(criterion='l1'))
