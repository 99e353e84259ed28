# SimMIM Swin-T at 256 px with SimMIM's own masking (60% of 32-px units, window 8):
# UM-MAE Swin-T's data, batch and schedule, with SimMIM's model (mask tokens on the
# full grid, linear decoder, L1 on masked pixels). Not the baseline of the UM-MAE
# paper's tables: that is simmim_swin-tiny-w16_..._256px.py.
_base_ = ['../ummae/ummae_swin-tiny-w8_8xb512-amp-coslr-200e_in1k-256px.py',
          '../_base_/models/simmim_on_ummae_pyramid.py']
model = {{_base_.simmim_mask32}}
