# The digits experiment's data, schedule and clock (docs/benchmarks_classification.md):
# scikit-learn's handwritten digits at 32 px, written to data/digits by
#   python tools/dataset_converters/make_digits_folder.py data/digits
# pretrained on the 1,198 train images without labels, on the CPU, for a budget of
# process CPU seconds (CPUBudgetHook: probes and loading of the probe images are not
# counted), with a linear probe of the frozen encoder (LinearProbeLoop: standardized
# features, logistic regression fitted on the train labels, top-1 on the 599 val
# images) at the start and every train_cfg.val_interval epochs and at the stop, each
# logged with the CPU seconds it was taken at (work_dir/*/vis_data/scalars.json).
# A method's config names this file after its model base and states the tiny model.
# tools/experiments/digits_claims.py runs every method x seed and writes the report.
_base_ = [
    '../../_base_/datasets/imagenet_pretrain.py',
    '../../_base_/schedules/adamw_coslr_pretrain.py',
    '../../_base_/default_runtime.py',
]

data_root = 'data/digits'
image_size = 32
# the two tiny encoders: a 64-d 4-block ViT (patch 4) and a 3-stage Swin (32/64/128-d,
# 2 blocks each, patch 2, window 4; its last stage is 4x4 tokens of 8 px)
vit_tiny = dict(embed_dims=64, num_layers=4, num_heads=4, feedforward_channels=128)
swin_tiny = dict(embed_dims=32, depths=[2, 2, 2], num_heads=[2, 4, 8])

# random crops of 50-100% of the image resized back to 32 px, flips; the decoded
# digits are kept in memory. One process (num_workers=0): the CPU clock counts only
# this process, so loading is part of the budget.
train_pipeline = [
    dict(type='LoadImageSafely', cache_images=2048),
    dict(type='RandomResizedCrop', scale=image_size, crop_ratio_range=(0.5, 1.0),
         backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=128, num_workers=0, persistent_workers=False, pin_memory=False,  # CPU runs
    dataset=dict(data_root=data_root, data_prefix='train', pipeline=train_pipeline))

# AdamW (0.9, 0.95), wd 0.05, lr 1.5e-3 at batch 128; 10% warm-up then cosine.
# max_epochs is a ceiling: CPUBudgetHook stops the run at its budget (digits_claims.py
# sets max_epochs and the warm-up from a calibration so that the cosine ends there).
max_epochs = 200
optim_wrapper = dict(optimizer=dict(lr=1.5e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=max_epochs // 10,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=max_epochs // 10,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=20)
auto_scale_lr = dict(base_batch_size=128)

# the probe: frozen features of the train split (fit) and the val split (scored), no
# augmentation; also the mean top-1 with 10 labels per class (5 draws)
probe_pipeline = [dict(type='LoadImageSafely', cache_images=2048), dict(type='PackInputs')]
probe_loader = dict(
    batch_size=256, num_workers=0, persistent_workers=False, pin_memory=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='ImageFolder', data_root=data_root, data_prefix='val', with_label=True,
                 pipeline=probe_pipeline))
val_dataloader = probe_loader
val_cfg = dict(type='LinearProbeLoop',
               fit_dataloader=dict(probe_loader, dataset=dict(probe_loader['dataset'],
                                                              data_prefix='train')))
val_evaluator = dict(type='LinearProbeMetric', per_class=10)

# the clock: stop at 600 CPU seconds of training; probe the random init first
custom_hooks = [*_base_.custom_hooks,
                dict(type='CPUBudgetHook', cpu_seconds=600, validate_at_start=True)]
# no checkpoint until the last one (saving counts in the clock); a log line per epoch
default_hooks = dict(checkpoint=dict(interval=10000, max_keep_ckpts=1, save_last=True),
                     logger=dict(interval=10))
# PixMIM's conservative crop at 32 px (1-px reflect padding: ~4 px at 224), flips; for
# the PixMIM configs
conservative_pipeline = [
    dict(type='LoadImageSafely', cache_images=2048),
    dict(type='ConservativeCrop', crop_size=image_size, padding=1),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackInputs'),
]
