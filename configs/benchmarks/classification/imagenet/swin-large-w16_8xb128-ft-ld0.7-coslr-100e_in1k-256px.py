# UM-MAE's Swin-L fine-tuning: the Swin-T recipe with layer decay 0.7, drop path 0.2;
# batch 1024 = 8 GPUs x 32 images x 4 accumulation steps, the official Makefile's
# micro-batch (at 128 per GPU the full 64x64 grid at window 16 keeps about 57 GiB of
# activations for the backward pass under bf16, 69 GiB in fp32, measured on the CPU).
_base_ = ['./swin-tiny-w16_8xb128-ft-ld0.85-coslr-100e_in1k-256px.py']

model = dict(backbone=dict(arch='large', drop_path_rate=0.2), head=dict(in_channels=1536))
train_dataloader = dict(batch_size=32)
optim_wrapper = dict(accumulative_counts=4, paramwise_cfg=dict(layer_decay_rate=0.7))
