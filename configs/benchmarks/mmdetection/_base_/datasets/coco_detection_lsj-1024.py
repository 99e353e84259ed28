# COCO 2017 boxes only (no masks) with large-scale jitter (LSJ) at 1024 x 1024, in the
# order of UM-MAE's GFL recipe (its mmdet 2.20 train pipeline in mmdet 3 names; mmdet's
# common/lsj-100e_coco-detection.py has the same steps): resize the 1024 square by a
# random ratio 0.1-2.0 keeping the aspect, crop 1024 (boxes clipped to the crop;
# recompute_bbox acts on masks only, so not here), drop boxes thinner than 0.01 px, flip.
# Padding to 1024 x 1024 is the model's (BatchFixedSizePad in the data preprocessor,
# after normalization: value 0, as the recipe's Pad after Normalize); `image_size` is
# here for it. Test: mmdet's coco_detection.py as it is (1333 x 800, keep ratio,
# padded to a multiple of 32), which the recipe also leaves unchanged.
# 2 images per GPU (x 8 GPUs = 16).
_base_ = 'mmdet::_base_/datasets/coco_detection.py'

image_size = (1024, 1024)
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomResize', scale=image_size, ratio_range=(0.1, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_type='absolute_range', crop_size=image_size,
         recompute_bbox=True, allow_negative_crop=True),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1e-2, 1e-2)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
train_dataloader = dict(batch_size=2, num_workers=2, dataset=dict(pipeline=train_pipeline))
