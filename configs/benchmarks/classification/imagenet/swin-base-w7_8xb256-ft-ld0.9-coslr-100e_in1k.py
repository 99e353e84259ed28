# SimMIM's Swin-B fine-tuning (the baseline's recipe; pretrained at 192 px, window 6):
# 224 px, window 7 (bias tables resized on load), layer decay 0.9, drop path 0.1,
# AdamW lr 5e-3 for batch 2048 (8 GPUs x 256), 20 warm-up epochs then cosine, 100 epochs.
_base_ = [
    '../_base_/imagenet_finetune.py',
    '../_base_/finetune_schedule.py',
]

model = dict(
    type='ImageClassifier',
    init_cfg=dict(type='MIMPretrained', checkpoint=None, submodule='backbone'),
    data_preprocessor={{_base_.data_preprocessor}},
    backbone=dict(type='SwinTransformer', arch='base', img_size=224, drop_path_rate=0.1,
                  stage_cfgs=[dict(window_size=7)] * 4),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=1024,
              loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
              init_cfg=dict(type='TruncNormal', layer='Linear', std=2e-5)),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]))

train_dataloader = dict(batch_size=256)
optim_wrapper = dict(optimizer=dict(lr=1.25e-3 * 2048 / 512),
                     paramwise_cfg=dict(layer_decay_rate=0.9))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=20,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=20, eta_min=1e-6,
         convert_to_iter_based=True),
]
auto_scale_lr = dict(base_batch_size=2048)
