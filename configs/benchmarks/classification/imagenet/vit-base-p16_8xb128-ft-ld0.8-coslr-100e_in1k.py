# UM-MAE's ViT-B fine-tuning: the MAE / PixMIM recipe with layer decay 0.8.
_base_ = ['./vit-base-p16_8xb128-ft-ld0.65-coslr-100e_in1k.py']

optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.8))
