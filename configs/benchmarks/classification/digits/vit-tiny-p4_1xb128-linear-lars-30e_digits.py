# The ViT-B linear probe shrunk to scikit-learn's digits (a CPU-minutes check of a
# tiny pretraining): 32 px images written to data/digits by
# tools/dataset_converters/make_digits_folder.py, the 64-d 4-block patch-4 ViT of
# configs/digits/ (MAE, LocalMIM, PixMIM), LARS lr 6.4 (the ImageNet value: LARS needs
# it at this tiny batch), batch 128, 2 warm-up + 28 cosine epochs.
#   python tools/train.py configs/digits/mae_vit-d64-p4_1xb128_digits.py \
#       --work-dir work_dirs/digits_mae    # stops at 600 CPU s: epoch_<n>.pth
#   GPUS=1 bash tools/benchmarks/classification/mim_dist_train.sh \
#       configs/benchmarks/classification/digits/<this file> work_dirs/digits_mae/epoch_<n>.pth
_base_ = ['../imagenet/vit-base-p16_8xb2048-linear-lars-coslr-90e_in1k.py']

data_root = 'data/digits'
embed_dims = 64
model = dict(
    data_preprocessor=dict(num_classes=10, mean=[127.5] * 3, std=[127.5] * 3),
    backbone=dict(arch=dict(_delete_=True, embed_dims=embed_dims, num_layers=4, num_heads=4,
                            feedforward_channels=128),
                  img_size=32, patch_size=4, frozen_stages=4),
    neck=dict(input_features=embed_dims),
    head=dict(num_classes=10, in_channels=embed_dims))

pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
train_dataloader = dict(
    batch_size=128, num_workers=0, persistent_workers=False, drop_last=False,
    dataset=dict(_delete_=True, type='CustomDataset', data_root=data_root,
                 data_prefix='train', pipeline=pipeline))
val_dataloader = dict(
    batch_size=300, num_workers=0, persistent_workers=False,
    dataset=dict(_delete_=True, type='CustomDataset', data_root=data_root,
                 data_prefix='val', pipeline=pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(lr=6.4))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=2,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=2, eta_min=0.0,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=30, val_interval=10)
auto_scale_lr = dict(base_batch_size=128)
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=30))
