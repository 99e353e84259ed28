# LocalMIM ViT-L/16, 800 epochs: ViT-B's 1600-epoch recipe with the large encoder
# tapped after blocks 2/4/22/24, 18-bin HOG with the frozen Sobel bias, batch 4096
# (8 GPUs x 128 images x 4 accumulation steps, the official micro-batch) and base lr
# 1.5e-4 per 256.
_base_ = './localmim_vit-base-p16_8xb256-amp-coslr-1600e_in1k.py'
model = dict(
    encoder=dict(arch='l'),
    levels=[
        dict(tap='block1', decoder=dict(type='LocalMIMDecoder', scale=4)),
        dict(tap='block3', decoder=dict(type='LocalMIMDecoder', scale=2)),
        dict(tap='block21', decoder=dict(type='LocalMIMDecoder', scale=1)),
        dict(tap='out', decoder=dict(type='LocalMIMDecoder', scale=0.5)),
    ],
    target=dict(nbins=18, sobel_bias_std=0.19245))
train_dataloader = dict(batch_size=128)
base_batch_size = 4096
optim_wrapper = dict(optimizer=dict(lr=1.5e-4 * base_batch_size / 256), accumulative_counts=4)
train_cfg = dict(max_epochs=800)
auto_scale_lr = dict(base_batch_size=base_batch_size)
