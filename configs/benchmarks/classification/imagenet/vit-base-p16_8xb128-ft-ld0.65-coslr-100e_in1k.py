# End-to-end fine-tuning of a pretrained ViT-B/16 (MAE / PixMIM recipe): global
# average pooling + norm, layer-wise lr decay 0.65, drop path 0.1, RandAugment m9,
# mixup 0.8 / cutmix 1.0, label smoothing 0.1, random erasing 0.25; AdamW lr 2e-3
# for batch 1024 (8 GPUs x 128), 5 warm-up epochs then cosine, 100 epochs.
_base_ = [
    '../_base_/imagenet_finetune.py',
    '../_base_/finetune_schedule.py',
]

embed_dims = 768
model = dict(
    type='ImageClassifier',
    # the pretrained encoder, converted on load (mim_dist_train.sh sets checkpoint)
    init_cfg=dict(type='MIMPretrained', checkpoint=None, submodule='backbone'),
    data_preprocessor={{_base_.data_preprocessor}},
    backbone=dict(
        type='VisionTransformer', arch='b', img_size=224, patch_size=16,
        drop_path_rate=0.1, out_type='avg_featmap', final_norm=False),
    neck=None,
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=embed_dims,
              loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
              init_cfg=dict(type='TruncNormal', layer='Linear', std=2e-5)),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]))

optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.65))
