# ImageNet pretraining data at 256 px (pyramid encoders: every stage of the compact
# grid divides evenly). Only the input size differs from imagenet_pretrain.py.
_base_ = './imagenet_pretrain.py'

image_size = 256
# the base's pipeline, its crop (the first step) at image_size
train_pipeline = [dict(_base_.train_pipeline[0], scale=image_size),
                  *_base_.train_pipeline[1:]]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
