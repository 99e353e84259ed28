# MAE ViT-B/16, 400 epochs, 8 GPUs x 512 = batch 4096, AMP.
_base_ = [
    '../_base_/models/mae_vit-base-p16.py',
    '../_base_/datasets/imagenet_pretrain.py',
    '../_base_/schedules/adamw_coslr_pretrain.py',
    '../_base_/default_runtime.py',
]
# AMP: bf16 where the GPU supports it, else fp16 with dynamic loss scaling
optim_wrapper = dict(type='GuardedAmpOptimWrapper', dtype='auto', loss_scale='dynamic')
