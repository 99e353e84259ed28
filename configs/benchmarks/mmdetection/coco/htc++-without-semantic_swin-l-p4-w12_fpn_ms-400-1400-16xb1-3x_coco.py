# HTC++ Swin-L, 3x, WITHOUT the COCO-stuff semantic branch (no stuffthingmaps needed).
# Target: none published (every published HTC++ number uses the semantic branch).
_base_ = './htc++_swin-l-p4-w12_fpn_ms-400-1400-16xb1-3x_coco.py'
model = _base_.without_semantic.model
train_dataloader = _base_.without_semantic.train_dataloader
