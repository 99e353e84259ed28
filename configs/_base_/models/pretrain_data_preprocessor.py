# The data preprocessor of every pretraining model base in this folder (each names this
# file as its _base_), stated once: ImageNet's mean / std on 0-255 RGB, BGR -> RGB (the
# loaders decode to BGR), and non-blocking copies of the pinned batches to the GPU.
model = dict(data_preprocessor=dict(
    mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True,
    non_blocking=True))
