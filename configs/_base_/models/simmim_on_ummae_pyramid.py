# SimMIM's model in place of UM-MAE's, for SimMIM configs built on a UM-MAE pyramid
# config (same encoder, its UM-MAE weight init as in the UM-MAE paper's own SimMIM
# baselines, data, batch and schedule): a config states
# ``model = {{_base_.simmim_paper}}`` (or ``simmim_mask32``) beside its UM-MAE base.
#
# simmim_paper: the UM-MAE paper's SimMIM baseline (the "SimMIM 100%" rows of its
# tables): a random 75% of the 16-px units replaced by mask tokens on the full grid,
# Swin window 16 (the fine-tuning window: 64x64 px), a linear decoder from the
# stride-32 map predicting each token's 2x2 units, L1 on masked pixels.
simmim_paper = dict(
    masker=dict(_delete_=True, type='RandomMasker', ratio=0.75, unit_size=16),
    encoder=dict(window_size=16, masking='mask_token', secondary_token=False),
    decoder=dict(_delete_=True, type='SimMIMDecoder', stride=32),
    target=dict(patch_size=16, normalize=False),
    loss=dict(criterion='l1'))
# simmim_mask32: SimMIM's own masking (60% of 32-px units), encoder window unchanged
# (8 on UM-MAE's configs), a linear decoder per 32-px unit, L1 on masked pixels.
simmim_mask32 = dict(
    masker=dict(_delete_=True, type='BlockMasker', ratio=0.6, unit_size=32),
    encoder=dict(masking='mask_token', secondary_token=False),
    decoder=dict(_delete_=True, type='SimMIMDecoder'),
    target=dict(patch_size=32, normalize=False),
    loss=dict(criterion='l1'))
