# PixMIM on UM-MAE PVT-S, 200 epochs at 256 px: UM-MAE's recipe with PixMIM's two
# changes from _base_/pixmim.py (a combination no published code has).
_base_ = ['../ummae/ummae_pvt-small_8xb512-amp-coslr-200e_in1k-256px.py', '../_base_/pixmim.py']

model = dict(target=dict(filters={{_base_.pixmim_filters}}))
train_pipeline = {{_base_.pixmim_pipeline_256}}
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
