# SimMIM Swin-T at 256 px, the baseline UM-MAE is measured against: UM-MAE Swin-T's
# data, batch and schedule, with SimMIM's model (60% of the 32-px units masked,
# mask tokens on the full grid, linear decoder, L1 on masked pixels); the UM-MAE init
# it inherits is the one the UM-MAE paper's own SimMIM baselines use.
_base_ = '../ummae/ummae_swin-tiny-w8_8xb512-amp-coslr-200e_in1k-256px.py'
model = dict(
    masker=dict(_delete_=True, type='BlockMasker', ratio=0.6, unit_size=32),
    encoder=dict(masking='mask_token', secondary_token=False),
    decoder=dict(_delete_=True, type='SimMIMDecoder'),
    target=dict(patch_size=32, normalize=False),
    loss=dict(criterion='l1'))
