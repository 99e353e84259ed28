# UperNet ViT-B/16 for LocalMIM checkpoints, as the LocalMIM paper's segmentation
# (Haoqing-Wang/LocalMIM semantic_segmentation/configs/upernet_vit_base_12_512_slide_160k_ade20k.py,
# mmseg 0.11): maps of blocks 2/4/10/12 (out_indices 1, 3, 9, 11), AVERAGE pooling in
# the x0.5 branch, relative position bias, layer scale init_values 1.0, drop path 0.1,
# AdamW lr 4e-4, wd 0.05, layer decay 0.65, slide test 512 / 341.
# Target: 49.5 mIoU, LocalMIM paper (ViT-B, 1600 epochs); a user reproduced 48.65
# (Haoqing-Wang/LocalMIM issue #3).
_base_ = ['./vit-base-p16-mae_upernet_8xb2-ld0.65-160k_ade20k-512x512.py']

model = dict(
    backbone=dict(out_indices=[1, 3, 9, 11]),
    neck=dict(downsample='avg'))

optim_wrapper = dict(optimizer=dict(lr=4e-4))
