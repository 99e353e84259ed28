# ADE20K at 512 x 512 as mmseg ships it (ADE20KDataset, reduce_zero_label, random
# resize 0.5-2.0 of (2048, 512), crop 512 with cat_max_ratio 0.75, flip, photometric
# distortion; test: resize to (2048, 512) one image at a time, IoUMetric mIoU), with
# 2 training images per GPU (8 GPUs x 2 = 16).
_base_ = ['mmseg::_base_/datasets/ade20k.py']

train_dataloader = dict(batch_size=2)

# Multi-scale + flip test (tools/test.py --tta, the "+MS" numbers): ratios 0.5-1.75 of
# the single-scale test's (2048, 512), each with and without a horizontal flip, as
# mmseg 0.x's MultiScaleFlipAug(img_scale=(2048, 512), img_ratios=...), with which the
# published ADE20K ms+flip numbers were made. (mmseg 1.x's own ade20k.py resizes the
# original image by the ratio, so its ratio 1.0 is not the single-scale test's size.)
img_ratios = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='TestTimeAug', transforms=[
        [dict(type='Resize', scale=(int(2048 * r), int(512 * r)), keep_ratio=True)
         for r in img_ratios],
        [dict(type='RandomFlip', prob=0., direction='horizontal'),
         dict(type='RandomFlip', prob=1., direction='horizontal')],
        [dict(type='LoadAnnotations', reduce_zero_label=True)],
        [dict(type='PackSegInputs')]]),
]
