# SimMIM Swin-L at 256 px, 800 epochs, with SimMIM's own masking (60% of 32-px
# units, window 8): UM-MAE Swin-L's data, batch and schedule, with SimMIM's model.
# The UM-MAE paper's baseline is simmim_swin-large-w16_..._256px.py.
_base_ = '../ummae/ummae_swin-large-w8_8xb512-amp-coslr-800e_in1k-256px.py'
model = dict(
    masker=dict(_delete_=True, type='BlockMasker', ratio=0.6, unit_size=32),
    encoder=dict(masking='mask_token', secondary_token=False),
    decoder=dict(_delete_=True, type='SimMIMDecoder'),
    target=dict(patch_size=32, normalize=False),
    loss=dict(criterion='l1'))
