# mmpretrain's own SimMIM (its code and its config) as Swin-T at 256 px, the peer of
# configs/simmim/simmim_swin-tiny-w8_8xb512-amp-coslr-200e_in1k-256px-mask32.py for
# throughput and memory comparisons (docs/benchmark.md). Only what differs from
# mmpretrain's Swin-B 192 px config is stated: the Swin-T arch, 256 px, window 8 (the
# stage maps are 64/32/16/8: all divide by 8 and none is smaller, which mmpretrain's
# Swin requires unless pad_small_map), the 768-channel neck, and the pipeline's crop and
# mask at 256 px (60% of the 32-px units, on the 4-px token grid). Everything else
# (drop_path_rate 0.1, AdamW with grad clipping, schedule) is mmpretrain's.
# The train step needs the mask the pipeline makes: benchmark it with `--pipeline`.
_base_ = 'mmpretrain::simmim/simmim_swin-base-w6_8xb256-amp-coslr-100e_in1k-192px.py'

image_size = 256
model = dict(
    backbone=dict(arch='tiny', img_size=image_size,
                  stage_cfgs=dict(block_cfgs=dict(window_size=8))),
    neck=dict(in_channels=96 * 2**3))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=image_size, crop_ratio_range=(0.67, 1.0)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='SimMIMMaskGenerator', input_size=image_size, mask_patch_size=32,
         model_patch_size=4, mask_ratio=0.6),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
