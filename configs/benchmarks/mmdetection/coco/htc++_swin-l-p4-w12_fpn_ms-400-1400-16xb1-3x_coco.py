# HTC++ Swin-L (window 12), 3x (36 epochs), semantic branch, no InstaBoost.
# Target: UM-MAE Swin-L IN-1K (800 epochs) + HTC++ 3x = 57.4 box / 49.8 mask AP on
# val2017, single scale (ViT-Adapter paper, App. A, Table 8; the detector config is
# private, UM-MAE issue #4). That run used InstaBoost (ViT-Adapter App. A.1): see the
# _instaboost- sibling; this config is the recipe without it.
# Window 12 as ViT-Adapter's Swin-L HTC++; an mmmim UM-MAE Swin-L checkpoint is
# pretrained with window 8: MIMPretrained resizes its bias tables (bicubic, 15x15 ->
# 23x23, logged per table) and drops the relative position index (rebuilt).
_base_ = '../_base_/htc++_swin_fpn_coco.py'
model = _base_.swin_large
