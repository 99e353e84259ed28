# ADE20K at 512 x 512 as mmseg ships it (ADE20KDataset, reduce_zero_label, random
# resize 0.5-2.0 of (2048, 512), crop 512 with cat_max_ratio 0.75, flip, photometric
# distortion; test: resize to (2048, 512) one image at a time, IoUMetric mIoU), with
# 2 training images per GPU (8 GPUs x 2 = 16).
_base_ = ['mmseg::_base_/datasets/ade20k.py']

train_dataloader = dict(batch_size=2)
