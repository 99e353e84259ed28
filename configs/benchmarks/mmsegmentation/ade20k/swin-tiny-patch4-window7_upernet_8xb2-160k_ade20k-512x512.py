# UperNet Swin-T (window 7), ADE20K 512 x 512, 160k iterations, 8 GPUs x 2: mmseg's
# Swin recipe (drop path 0.3, AdamW lr 6e-5, wd 0.01, no layer decay, no weight decay
# on norms / biases / relative position tables; whole-image test).
# Target: 44.41 mIoU, mmseg 1.x metafile for
# swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512: a SUPERVISED
# ImageNet-1K Swin-T, not a MIM checkpoint (no published UperNet number for a UM-MAE /
# SimMIM Swin-T at this recipe was retrieved: the UM-MAE paper's table was not read).
# mmseg's Swin reads its own init_cfg; here it is None and MIMPretrained on the
# segmentor loads the backbone ('swin->mmseg', bias tables resized to window 7).
_base_ = [
    '../_base_/models/upernet_mim.py',
    '../_base_/datasets/ade20k_512x512.py',
    '../_base_/schedules/adamw_160k.py',
]

model = dict(
    backbone=dict(
        type='SwinTransformer', pretrain_img_size=224, patch_size=4, embed_dims=96,
        depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24], window_size=7, mlp_ratio=4,
        strides=(4, 2, 2, 2), out_indices=(0, 1, 2, 3), qkv_bias=True, patch_norm=True,
        drop_path_rate=0.3, use_abs_pos_embed=False, act_cfg=dict(type='GELU'),
        norm_cfg=dict(type='LN', requires_grad=True), init_cfg=None),
    decode_head=dict(in_channels=[96, 192, 384, 768], channels=512),
    auxiliary_head=dict(in_channels=384))

optim_wrapper = dict(
    optimizer=dict(lr=6e-5, weight_decay=0.01),
    # weight decay as mmseg's Swin: 0 for the backbone's norm layers ('norm' in the
    # name), absolute_pos_embed, relative_position_bias_table; biases and the heads'
    # SyncBN ('bn') decayed
    paramwise_cfg=dict(layer_decay_rate=1.0, no_decay_1d=False, no_decay_norms='backbone',
                       no_decay_names=('absolute_pos_embed',
                                       'relative_position_bias_table')))
