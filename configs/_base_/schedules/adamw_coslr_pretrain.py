# MAE-family pretraining schedule: AdamW, linear warm-up then cosine, per iteration.
# lr = base lr 1.5e-4 x batch / 256; `auto_scale_lr` rescales it when the total
# batch differs (tools/train.py --auto-scale-lr).
base_batch_size = 4096
# The guarded wrappers run this AdamW with torch's fused kernel where the device has
# one (their fused_step=True; mmmim/engine/optimizers/fused_step.py), also after a
# resume. `fused=True` here would not: a resumed checkpoint's groups bring back their
# own implementation (the loop's, say) while GradScaler keeps handing the step its
# fp16 scale, which the loop refuses; and ZeRO's local AdamW would inherit it
# (optimizer.type=ZeroRedundancyOptimizer, docs/gpu_clusters.md).
optim_wrapper = dict(
    type='GuardedOptimWrapper',  # skips and reports non-finite losses
    optimizer=dict(type='AdamW', lr=1.5e-4 * base_batch_size / 256, betas=(0.9, 0.95),
                   weight_decay=0.05),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        flat_decay_mult=0.0,
        custom_keys={
            'pos_embed': dict(decay_mult=0.),
            'cls_token': dict(decay_mult=0.),
            'mask_token': dict(decay_mult=0.),
            'secondary_token': dict(decay_mult=0.),
        }))

# The cosine has no `end` / `T_max`: mmengine's runner ends it at train_cfg.max_epochs
# and the scheduler takes T_max = end - begin, so a variant states only max_epochs (and
# its warm-up list where the warm-up differs).
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=40,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=40,
         convert_to_iter_based=True),
]

train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=400)
auto_scale_lr = dict(base_batch_size=base_batch_size)
