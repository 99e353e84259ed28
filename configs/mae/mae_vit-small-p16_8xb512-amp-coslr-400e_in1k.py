# MAE ViT-S/16 (DeiT-S widths), 400 epochs: the ViT-B recipe with the small encoder.
_base_ = './mae_vit-base-p16_8xb512-amp-coslr-400e_in1k.py'
model = dict(encoder=dict(arch='deit-s'))  # 384-d, 12 blocks, 6 heads
