# SimMIM Swin-L at 256 px, 800 epochs, as the UM-MAE paper's baseline (85.4 top-1):
# the Swin-T paper baseline (75% of 16-px units, window 16, full grid, L1) with
# UM-MAE Swin-L's encoder, data, batch and schedule.
_base_ = ['../ummae/ummae_swin-large-w8_8xb512-amp-coslr-800e_in1k-256px.py',
          '../_base_/models/simmim_on_ummae_pyramid.py']
model = {{_base_.simmim_paper}}
