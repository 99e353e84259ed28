# SimMIM PVT-S at 256 px: UM-MAE PVT-S's data, batch and schedule, with SimMIM's
# model (full grid with mask tokens, SR ratios 8/4/2/1); the UM-MAE init it inherits
# is the one the UM-MAE paper's own SimMIM baselines use.
_base_ = '../ummae/ummae_pvt-small_8xb512-amp-coslr-200e_in1k-256px.py'
model = dict(
    masker=dict(_delete_=True, type='BlockMasker', ratio=0.6, unit_size=32),
    encoder=dict(masking='mask_token', secondary_token=False),
    decoder=dict(_delete_=True, type='SimMIMDecoder'),
    target=dict(patch_size=32, normalize=False),
    loss=dict(criterion='l1'))
