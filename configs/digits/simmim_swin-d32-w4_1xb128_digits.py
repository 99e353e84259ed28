# SimMIM on the UM-MAE digits pyramid (same encoder and init): SimMIM's own masking
# (_base_/models/simmim_on_ummae_pyramid.py's simmim_mask32) shrunk to 60% of the 8-px
# units, mask tokens on the full grid, a linear decoder per 8-px unit, L1 on raw pixels.
_base_ = ['./ummae_swin-d32-w4_1xb128_digits.py',
          '../_base_/models/simmim_on_ummae_pyramid.py']
model = dict(_base_.simmim_mask32,
             masker=dict(_base_.simmim_mask32.masker, unit_size=8),
             target=dict(_base_.simmim_mask32.target, patch_size=8))
