# HTC++ Swin-B (window 7), 6x (72 epochs), semantic branch, WITH InstaBoost: the Swin
# paper's HTC++ definition (needs `pip install -r requirements/optional.txt`).
# Target: Swin-B HTC++ IN-22K supervised 56.4 box / 49.1 mask AP
# (microsoft/Swin-Transformer README, "6x").
_base_ = './htc++_swin-b-p4-w7_fpn_ms-400-1400-16xb1-6x_coco.py'
train_pipeline = [*_base_.train_pipeline[:1], _base_.instaboost, *_base_.train_pipeline[1:]]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
