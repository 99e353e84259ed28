# MAE ViT-L/16, 400 epochs: the ViT-B recipe with the large encoder.
_base_ = './mae_vit-base-p16_8xb512-amp-coslr-400e_in1k.py'
model = dict(encoder=dict(arch='l'))
