# SimMIM PVT-S at 256 px as the UM-MAE paper's baseline (79.28 top-1 after 200
# epochs, 38.0 h): a random 75% of the 16-px units masked by mask tokens on the full
# grid, PVT with its fine-tuning SR ratios 8/4/2/1, a linear decoder from the
# stride-32 map predicting each token's 2x2 units, L1 on masked pixels. Data, batch
# and schedule of UM-MAE PVT-S; 8 GPUs x 128 images x 4 accumulation steps, the UM-MAE
# Makefile's SimMIM PVT-S micro-batch.
_base_ = './simmim_swin-tiny-w16_8xb512-amp-coslr-200e_in1k-256px.py'
model = dict(encoder=dict(
    _delete_=True, type='MaskedPVT', pretrain_img_size=256, sr_ratios=(8, 4, 2, 1),
    masking='mask_token', secondary_token=False))
train_dataloader = dict(batch_size=128)
optim_wrapper = dict(accumulative_counts=4)
