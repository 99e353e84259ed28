# MAE ViT-B/16, 1600 epochs: the 400-epoch recipe with its schedule only changed.
_base_ = './mae_vit-base-p16_8xb512-amp-coslr-400e_in1k.py'
train_cfg = dict(max_epochs=1600)
