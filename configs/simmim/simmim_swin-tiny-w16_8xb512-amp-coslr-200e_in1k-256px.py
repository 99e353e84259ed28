# SimMIM Swin-T at 256 px as the UM-MAE paper's baseline (the "SimMIM 100%" rows
# its 2x-faster claim compares with: 82.20 top-1 after 200 epochs, 49.3 h): 75% of
# the 16-px units masked, window 16, full grid, L1 (see
# _base_/models/simmim_on_ummae_pyramid.py). Data, batch and schedule of UM-MAE Swin-T;
# 8 GPUs x 64 images x 8 accumulation steps, the UM-MAE Makefile's SimMIM Swin-T
# micro-batch (the full grid at window 16 keeps 5x UM-MAE's activations per image).
_base_ = ['../ummae/ummae_swin-tiny-w8_8xb512-amp-coslr-200e_in1k-256px.py',
          '../_base_/models/simmim_on_ummae_pyramid.py']
model = {{_base_.simmim_paper}}
train_dataloader = dict(batch_size=64)
optim_wrapper = dict(accumulative_counts=8)
