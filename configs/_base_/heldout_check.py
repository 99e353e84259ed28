# Optional held-out check of a pretraining run (mmmim.engine.heldout_check): every
# train_cfg.val_interval epochs (every epoch unless the config sets it), the masked-unit
# error of the model's reconstruction on the images of a held-out folder (nothing
# borrowed from the masked units) beside the flat visible colour, smooth interpolation
# and oracle baselines, logged as heldout/mse_model, heldout/model_over_interpolation, ...
# Masks are drawn with a fixed seed (the same at every check); training is unaffected.
# Pixel targets only (MAE, UM-MAE, SimMIM, PixMIM). Add it last to a config's _base_:
#   _base_ = ['../mae/mae_vit-base-p16_8xb512-amp-coslr-400e_in1k.py',
#             '../_base_/heldout_check.py']
#   train_cfg = dict(val_interval=10)
# or on the command line of tools/train.py (the folder: a few hundred images at most):
#   --cfg-options val_dataloader.dataset.data_root=data/my_heldout train_cfg.val_interval=10
# At another input size than 224 px set both sizes of the pipeline:
#   val_dataloader.dataset.pipeline.1.scale=192 val_dataloader.dataset.pipeline.2.crop_size=192
heldout_pipeline = [
    dict(type='LoadImageSafely'),
    dict(type='ResizeEdge', scale=224, edge='short', backend='pillow',
         interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
val_dataloader = dict(
    batch_size=32, num_workers=2, persistent_workers=False, pin_memory=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='ImageFolder', data_root='data/heldout', data_prefix='',
                 pipeline=heldout_pipeline))
val_evaluator = dict(type='MaskedUnitErrorMetric')
val_cfg = dict(type='SeededValLoop', seed=0)
