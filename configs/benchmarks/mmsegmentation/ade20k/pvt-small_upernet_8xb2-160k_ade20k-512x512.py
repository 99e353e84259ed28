# UperNet PVT-S (v1), ADE20K 512 x 512, 160k iterations, 8 GPUs x 2. mmseg has no
# PVT v1: the backbone is mmdet's PyramidVisionTransformer (mmdet imported below),
# with the UM-MAE PVT-S pretraining's 256-px position grids (64/32/16/8, resized by
# mmdet at every forward) and SR ratios 8/4/2/1 (our pooled reductions become mmdet's
# strided convs on load, exactly: 'pvt->mmdet'). Recipe as UM-MAE's released
# segmentation config (implus/UM-MAE, SEG/configs/upernet/
# upernet_mae_pvt_small_256_mask_vmr025_200e_100e_512_slide_160k_ade20k_lr1e4_lrd1_pt.py):
# AdamW lr 1e-4, wd 0.05, no layer decay, drop path 0.1, slide test 512 / 341, head
# width 768; here the UPerHead reads the four stage maps directly (UM-MAE first
# projects each to 768 with a 1x1 conv, which the head's own 1x1 lateral convs
# subsume).
# Checkpoint: UM-MAE started from the ImageNet-1K FINE-TUNED PVT-S (its `pretrained` is
# finetune_mae_pvt_small_256_.../checkpoint-99.pth); ours is
# work_dirs/pvt-small_8xb128-ft-ld0.85-coslr-100e_in1k-256px/epoch_100.pth. A raw
# pretraining checkpoint also loads, but that is not UM-MAE's protocol.
# Target: none. No published UperNet PVT-S ADE20K number was retrieved (the UM-MAE
# paper's table was not read; the PVT paper's ADE20K results, not re-read here, use
# Semantic FPN).
_base_ = [
    '../_base_/models/upernet_mim.py',
    '../_base_/datasets/ade20k_512x512.py',
    '../_base_/schedules/adamw_160k.py',
]
custom_imports = dict(
    imports=['mmmim.converters', 'mmmim.models', 'mmmim.engine', 'mmdet.models'],
    allow_failed_imports=False)

model = dict(
    backbone=dict(
        type='mmdet.PyramidVisionTransformer', pretrain_img_size=256, embed_dims=64,
        num_layers=[3, 4, 6, 3], num_heads=[1, 2, 5, 8], sr_ratios=[8, 4, 2, 1],
        mlp_ratios=[8, 8, 4, 4], out_indices=(0, 1, 2, 3), qkv_bias=True,
        drop_path_rate=0.1, convert_weights=False, init_cfg=None),
    decode_head=dict(in_channels=[64, 128, 320, 512], channels=768),
    auxiliary_head=dict(in_channels=320),
    test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(341, 341)))

optim_wrapper = dict(
    optimizer=dict(lr=1e-4, weight_decay=0.05),
    # weight decay as UM-MAE's SEG constructor: 0 for 1-D parameters only (norms,
    # biases); position embeddings and relative position terms decayed
    paramwise_cfg=dict(layer_decay_rate=1.0, no_decay_1d=True, no_decay_names=(),
                       no_decay_norms=None))
