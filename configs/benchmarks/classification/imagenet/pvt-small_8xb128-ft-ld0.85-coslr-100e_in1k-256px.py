# UM-MAE's PVT-S fine-tuning at 256 px: our MaskedPVT without masks as the backbone
# (mmdet's PVT v1 keys, pooled spatial reduction at the fine-tuning ratios 8/4/2/1,
# learnable positions, the last stage normed as the original PVT), global average
# pooling, linear head 512 -> 1000; layer decay 0.85, drop path 0.1, the MAE
# augmentation recipe, AdamW lr 2e-3 for batch 1024, 100 epochs. The pretraining
# checkpoint loads through the 'pvt->mmpretrain' converter (same keys).
_base_ = [
    '../_base_/imagenet_finetune_256px.py',
    '../_base_/finetune_schedule.py',
]

model = dict(
    type='ImageClassifier',
    init_cfg=dict(type='MIMPretrained', checkpoint=None, submodule='backbone'),
    data_preprocessor={{_base_.data_preprocessor}},
    backbone=dict(
        type='MaskedPVT', pretrain_img_size=256, sr_ratios=(8, 4, 2, 1), drop_path_rate=0.1,
        out_indices=(3,), out_final_norm=True, fixed_pos_embed=False),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=512,
              loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
              init_cfg=dict(type='TruncNormal', layer='Linear', std=2e-5)),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]))

optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.85))
