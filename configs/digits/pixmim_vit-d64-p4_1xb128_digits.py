# PixMIM on the digits: the MAE digits config with PixMIM's two changes
# (_base_/pixmim.py): the low-pass filtered target and the conservative crop.
_base_ = ['./mae_vit-d64-p4_1xb128_digits.py', '../_base_/pixmim.py']
model = dict(target=dict(filters=_base_.pixmim_filters))
train_dataloader = dict(dataset=dict(pipeline=_base_.conservative_pipeline))
