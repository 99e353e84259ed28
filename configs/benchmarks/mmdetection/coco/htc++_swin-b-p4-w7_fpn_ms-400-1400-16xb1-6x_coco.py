# HTC++ Swin-B, 6x (72 epochs, steps 63 / 69), semantic branch, no InstaBoost.
# Target: the Swin paper's Swin-B HTC++ 56.4 box / 49.1 mask AP (IN-22K supervised,
# microsoft/Swin-Transformer README) was trained WITH InstaBoost: see the _instaboost-
# sibling; this config is that recipe without it.
_base_ = './htc++_swin-b-p4-w7_fpn_ms-400-1400-16xb1-3x_coco.py'
max_epochs = 72
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = _base_.schedule_6x
