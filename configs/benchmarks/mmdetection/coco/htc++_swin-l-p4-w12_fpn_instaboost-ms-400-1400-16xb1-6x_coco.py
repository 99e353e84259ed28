# HTC++ Swin-L (window 12), 6x (72 epochs), semantic branch, WITH InstaBoost: the Swin
# paper's HTC++ definition (needs `pip install -r requirements/optional.txt`).
# Target: Swin-L HTC++ IN-22K supervised 57.1 box / 49.5 mask AP (val, single scale;
# ViT-Adapter Table 8, 72 epochs; the microsoft/Swin-Transformer README labels the same
# row "3x"; 58.0 / 50.4 with the multi-scale test, not available in mmdet 3.3).
_base_ = './htc++_swin-l-p4-w12_fpn_ms-400-1400-16xb1-6x_coco.py'
train_pipeline = [*_base_.train_pipeline[:1], _base_.instaboost, *_base_.train_pipeline[1:]]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
