# UM-MAE's Swin-L fine-tuning: the Swin-T recipe with layer decay 0.7, drop path 0.2.
_base_ = ['./swin-tiny-w16_8xb128-ft-ld0.85-coslr-100e_in1k-256px.py']

model = dict(backbone=dict(arch='large', drop_path_rate=0.2), head=dict(in_channels=1536))
optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.7))
