# UperNet ViT-B/16 for MAE-family checkpoints (MAE, PixMIM, UM-MAE ViT), ADE20K
# 512 x 512, 160k iterations, 8 GPUs x 2: mmseg's MAE recipe.
# Target: 48.13 mIoU, mmseg 1.x metafile for mae-base_upernet_8xb2-amp-160k_ade20k-512x512
# (the official MAE ViT-B checkpoint, single-scale test; 48.7 with multi-scale + flip).
#
# Backbone: mmseg's BEiT-style `MAE` (mmpretrain ViT keys) with layer scale
# init_values=1.0 and a zero-initialized relative position bias, both new (expected
# missing in the load report), so at step 0 it computes our encoder's features;
# drop path 0.1; maps of blocks 4/6/8/12 (out_indices 3, 5, 7, 11) rescaled x4 / x2 /
# x1 / x0.5 with max pooling (as mmseg's Feature2Pyramid). The position embedding is
# resized to the 32 x 32 grid on load. AdamW lr 1e-4, wd 0.05, layer decay 0.65.
_base_ = [
    '../_base_/models/upernet_mim.py',
    '../_base_/datasets/ade20k_512x512.py',
    '../_base_/schedules/adamw_160k.py',
]

embed_dims = 768
model = dict(
    backbone=dict(
        type='MAE', img_size=(512, 512), patch_size=16, embed_dims=embed_dims,
        num_layers=12, num_heads=12, mlp_ratio=4, init_values=1.0, drop_path_rate=0.1,
        out_indices=[3, 5, 7, 11], init_cfg=None,
        norm_cfg=dict(type='LN', eps=1e-6)),  # as pretraining and mmseg's upernet_mae.py
    neck=dict(type='mmmim.ViTFeaturePyramid', embed_dims=embed_dims, rescales=[4, 2, 1, 0.5],
              downsample='max'),
    decode_head=dict(in_channels=[embed_dims] * 4, channels=embed_dims),
    auxiliary_head=dict(in_channels=embed_dims),
    test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(341, 341)))

optim_wrapper = dict(
    optimizer=dict(lr=1e-4, weight_decay=0.05), paramwise_cfg=dict(layer_decay_rate=0.65))

# Multi-scale + flip test (tools/test.py --tta): mmseg 0.x's MAE "ms" test behind the
# 48.7: ratios 0.5-1.75 of the short side 512, raised to at least 512 (its Resize
# min_size=512: mmseg's MAE adds a fixed 32 x 32 position table, so every slide window
# must be a full 512 x 512 crop), long side then uncapped as there; with / without flip.
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='TestTimeAug', transforms=[
        [dict(type='Resize', scale=(1 << 16, max(512, int(512 * r))), keep_ratio=True)
         for r in (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)],
        [dict(type='RandomFlip', prob=0., direction='horizontal'),
         dict(type='RandomFlip', prob=1., direction='horizontal')],
        [dict(type='LoadAnnotations', reduce_zero_label=True)],
        [dict(type='PackSegInputs')]]),
]
