# COCO instance segmentation with large-scale jitter (LSJ) at 1024 x 1024, as ViTDet
# (mmdet projects/ViTDet lsj-100e_coco-instance.py): flip, resize the 1024 square by
# a random ratio 0.1-2.0 keeping the aspect, crop 1024 (boxes recomputed from the
# masks), drop boxes thinner than 0.01 px, pad to 1024 with 114. Test: resize into
# 1024 and pad the same way. 4 images per GPU (x 16 GPUs = 64).
_base_ = 'mmdet::_base_/datasets/coco_instance.py'

image_size = (1024, 1024)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomResize', scale=image_size, ratio_range=(0.1, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_type='absolute_range', crop_size=image_size,
         recompute_bbox=True, allow_negative_crop=True),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1e-2, 1e-2)),
    dict(type='Pad', size=image_size, pad_val=dict(img=(114, 114, 114))),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='Pad', size=image_size, pad_val=dict(img=(114, 114, 114))),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
# every image is 1024 x 1024 after padding: no aspect-ratio grouping
train_dataloader = dict(batch_size=4, num_workers=8, batch_sampler=None,
                        dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
