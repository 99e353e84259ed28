# SimMIM PVT-S at 256 px with SimMIM's own masking (60% of 32-px units): UM-MAE
# PVT-S's data, batch and schedule, with SimMIM's model (full grid with mask tokens,
# SR ratios 8/4/2/1). The UM-MAE paper's baseline is simmim_pvt-small_..._256px.py.
_base_ = ['../ummae/ummae_pvt-small_8xb512-amp-coslr-200e_in1k-256px.py',
          '../_base_/models/simmim_on_ummae_pyramid.py']
model = {{_base_.simmim_mask32}}
