# COCO 2017 instances, single scale (1333, 800) with flip: mmdet's
# coco_instance.py; 2 images per GPU x 8 GPUs = 16 (the schedules' auto_scale_lr
# base_batch_size).
_base_ = 'mmdet::_base_/datasets/coco_instance.py'

train_dataloader = dict(batch_size=2, num_workers=2)
