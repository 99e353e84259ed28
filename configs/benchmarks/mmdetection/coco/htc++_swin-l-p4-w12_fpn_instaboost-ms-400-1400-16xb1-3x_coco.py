# HTC++ Swin-L (window 12), 3x, semantic branch, WITH InstaBoost (needs
# `pip install -r requirements/optional.txt`): ViT-Adapter's Swin-L HTC++ recipe.
# Target: UM-MAE Swin-L IN-1K (800 epochs) + HTC++ 3x = 57.4 box / 49.8 mask AP on
# val2017, single scale (ViT-Adapter paper, App. A, Table 8; 58.7 / 50.9 with the
# multi-scale test, which mmdet 3.3 cannot run for masks).
_base_ = './htc++_swin-l-p4-w12_fpn_ms-400-1400-16xb1-3x_coco.py'
train_pipeline = [*_base_.train_pipeline[:1], _base_.instaboost, *_base_.train_pipeline[1:]]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
