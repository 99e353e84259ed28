# UM-MAE's Swin-T fine-tuning at 256 px: windows 16 (16/16/16/8, clamped to the
# stage grids 64/32/16/8; the pretraining tables, window 8 on the compact grid, are
# resized on load), global average pooling, layer decay 0.85, drop path 0.1, the
# MAE augmentation recipe, AdamW lr 2e-3 for batch 1024, 100 epochs.
_base_ = [
    '../_base_/imagenet_finetune_256px.py',
    '../_base_/finetune_schedule.py',
]

arch = 'tiny'
model = dict(
    type='ImageClassifier',
    init_cfg=dict(type='MIMPretrained', checkpoint=None, submodule='backbone'),
    data_preprocessor={{_base_.data_preprocessor}},
    backbone=dict(
        type='SwinTransformer', arch=arch, img_size=256, drop_path_rate=0.1,
        stage_cfgs=[dict(window_size=w) for w in (16, 16, 16, 8)]),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=768,
              loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
              init_cfg=dict(type='TruncNormal', layer='Linear', std=2e-5)),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]))

optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.85))
