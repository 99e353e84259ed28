# UperNet Swin-B (window 7): Swin-T's config with Swin-B's widths and depths (as the
# LocalMIM paper's Swin-B segmentation: lr 6e-5, wd 0.01, window 7, drop path 0.3).
# Target: 47.99 mIoU, mmseg 1.x metafile for
# swin-base-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512: a SUPERVISED
# ImageNet-1K Swin-B, not a MIM checkpoint (the LocalMIM paper's Swin-B ADE20K
# number was not retrieved, so none is quoted).
_base_ = ['./swin-tiny-patch4-window7_upernet_8xb2-160k_ade20k-512x512.py']

model = dict(
    backbone=dict(embed_dims=128, depths=[2, 2, 18, 2], num_heads=[4, 8, 16, 32]),
    decode_head=dict(in_channels=[128, 256, 512, 1024]),
    auxiliary_head=dict(in_channels=512))
