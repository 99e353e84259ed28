# PixMIM on MAE ViT-B/16, 300 epochs: MAE's recipe with a low-pass filtered target and
# the conservative crop (Liu et al., arXiv 2303.02416), both from _base_/pixmim.py.
_base_ = ['../mae/mae_vit-base-p16_8xb512-amp-coslr-400e_in1k.py', '../_base_/pixmim.py']

model = dict(target=dict(filters={{_base_.pixmim_filters}}))
train_pipeline = {{_base_.pixmim_pipeline_224}}
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

train_cfg = dict(max_epochs=300)
