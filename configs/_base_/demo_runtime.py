# Runtime of the demo configs: a log line every 40 iterations, the last checkpoint
# kept, and a reconstruction figure of the held-out demo photographs (never trained
# on) and two training ones every 100 iterations (work_dir/reconstructions/ and the
# visualizer's backends; add dict(type='TensorboardVisBackend') to vis_backends when
# tensorboard is installed).
_base_ = './default_runtime.py'

default_hooks = dict(logger=dict(interval=40),
                     checkpoint=dict(interval=1000, max_keep_ckpts=1, save_last=True))
custom_hooks = [
    dict(type='RandomStateHook'),
    dict(type='ParamGroupLrHook'),
    dict(type='ReconstructionVisualizationHook', interval=100, seed=0,
         images=['data/demo_heldout', 'data/demo/astronaut.jpg', 'data/demo/rocket.jpg']),
    dict(type='SkippedImagesHook'),
]
