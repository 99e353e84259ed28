# LocalMIM Swin-L (window 14, HOG), 800 epochs: Swin-B's 400-epoch recipe with the
# large encoder (stage windows 14/14/14/7 at 224 px), batch 4096 = 8 GPUs x 64 images x
# 8 accumulation steps. The official code ran 128 x 4 with GreenMIM's sparse encoder on
# the visible quarter of the tokens; the encoder here runs on all of them (mask tokens).
_base_ = './localmim_swin-base-w7_8xb256-amp-coslr-400e_in1k.py'
model = dict(encoder=dict(arch='large', window_size=14))
train_dataloader = dict(batch_size=64)
base_batch_size = 4096
optim_wrapper = dict(optimizer=dict(lr=1e-4 * base_batch_size / 256), accumulative_counts=8)
train_cfg = dict(max_epochs=800)
auto_scale_lr = dict(base_batch_size=base_batch_size)
