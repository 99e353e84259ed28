# ViTDet ViT-B Mask R-CNN on 8 GPUs: the 16-GPU config with 8 images per GPU
# (8 x 8 = 64, ViTDet's batch) and activation checkpointing in the backbone, so the
# 64 x 64 global-attention blocks of 8 images fit in one GPU's memory. Same
# iterations (184375 = 100 COCO epochs at 64), lr, schedule and target (51.6 / 45.9).
# Checkpointing recomputes each block's forward in the backward pass: the backbone
# costs about one forward more per step (not measured here: no GPU), the result
# is the same (tests/test_models/test_vitdet.py: same outputs and gradients).
_base_ = ['./vitdet_mask-rcnn_vit-base-p16_lsj-1024-100e_coco.py']

model = dict(backbone=dict(with_cp=True))
train_dataloader = dict(batch_size=8)
