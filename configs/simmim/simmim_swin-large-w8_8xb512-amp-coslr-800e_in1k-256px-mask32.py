# SimMIM Swin-L at 256 px, 800 epochs, with SimMIM's own masking (60% of 32-px
# units, window 8): UM-MAE Swin-L's data, batch and schedule, with SimMIM's model.
# The UM-MAE paper's baseline is simmim_swin-large-w16_..._256px.py.
_base_ = ['../ummae/ummae_swin-large-w8_8xb512-amp-coslr-800e_in1k-256px.py',
          '../_base_/models/simmim_on_ummae_pyramid.py']
model = {{_base_.simmim_mask32}}
