# Runtime shared by every mmmim config.
default_scope = 'mmmim'

default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    # LoggerHook without the experiment name after every epoch
    logger=dict(type='ExpNameOnceLoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # every epoch; a resume continues the interrupted epoch at the next unseen batch.
    # For checkpoints by iteration: dict(interval=1000, by_epoch=False). Atomic saves:
    # a kill or a full disk mid-save leaves the previous checkpoints intact.
    checkpoint=dict(type='AtomicCheckpointHook', interval=1, max_keep_ckpts=3,
                    save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)
# random states (python, numpy, torch, cuda) saved in and restored from checkpoints;
# the count of unreadable images skipped (all ranks and workers) in the log; every
# parameter group's lr in the log when they differ (layer-wise decay); on SIGTERM or
# SIGUSR1 (Slurm's --signal=USR1@180, a preemption) a checkpoint after the current
# iteration on every rank, then exit 0 (resume with --resume)
custom_hooks = [dict(type='RandomStateHook'), dict(type='SkippedImagesHook'),
                dict(type='ParamGroupLrHook'), dict(type='PreemptionCheckpointHook')]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # tools/train.py switches to gloo without CUDA. timeout: seconds a collective may
    # wait (NCCL's default is 10 min): rank 0's checkpoint save on a slow shared file
    # system or per-rank dataset scans keep the other ranks waiting
    dist_cfg=dict(backend='nccl', timeout=3600),
)

log_processor = dict(
    window_size=10,
    custom_cfg=[dict(data_src='', method='mean', window_size='global')])

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)

log_level = 'INFO'
load_from = None
resume = False

# masks are drawn on the model side from torch's RNG: a different seed per rank
randomness = dict(seed=0, diff_rank_seed=True)
