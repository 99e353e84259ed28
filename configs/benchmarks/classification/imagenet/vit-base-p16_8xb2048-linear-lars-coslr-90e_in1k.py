# Linear probe of a pretrained ViT-B/16 (MAE / PixMIM protocol): frozen backbone,
# class token after the (frozen) final norm, BatchNorm without affine, linear head;
# LARS lr 6.4 for batch 16384 (8 GPUs x 2048; 0.1 per 256), no weight decay,
# 10 warm-up epochs then cosine, 90 epochs.
#   GPUS=8 bash tools/benchmarks/classification/mim_dist_train.sh \
#       configs/benchmarks/classification/imagenet/<this file> PRETRAIN.pth
# The pretrained encoder is loaded by the model's init_cfg (type MIMPretrained),
# which converts a raw mmmim checkpoint and logs the load report.
_base_ = [
    '../_base_/imagenet_linear.py',
    '../../../_base_/default_runtime.py',
]

embed_dims = 768
model = dict(
    type='ImageClassifier',
    # the pretrained encoder, converted on load (mim_dist_train.sh sets checkpoint)
    init_cfg=dict(type='MIMPretrained', checkpoint=None, submodule='backbone'),
    data_preprocessor={{_base_.data_preprocessor}},
    backbone=dict(
        type='VisionTransformer', arch='b', img_size=224, patch_size=16,
        frozen_stages=12, out_type='cls_token', final_norm=True),
    neck=dict(type='ClsBatchNormNeck', input_features=embed_dims, affine=False),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=embed_dims,
              loss=dict(type='CrossEntropyLoss'),
              init_cfg=dict(type='TruncNormal', layer='Linear', std=0.01)))

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='LARS', lr=0.1 * 16384 / 256, weight_decay=0.0, momentum=0.9))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=10,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=10, eta_min=0.0,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=90, val_interval=10)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=16384)

# the number to report is the last epoch's (as MAE): no best checkpoint is kept
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=10, max_keep_ckpts=2))
