# PixMIM ViT-B/16, 800 epochs: the 300-epoch recipe with its schedule only changed.
_base_ = './pixmim_vit-base-p16_8xb512-amp-coslr-300e_in1k.py'
train_cfg = dict(max_epochs=800)
