# LocalMIM Swin-B (HOG) on UM-MAE's compact grid, 100 epochs at 256 px: the mask-token
# recipe with uniform masking (one visible 16-px unit per 2x2 window, 25% of them
# secondary-masked) and the encoder on the compact grid (window 8). Compact taps
# hold the visible units only: 8-px and 16-px taps are scattered back to their units
# (mask tokens elsewhere); the 32-px taps cover 2x2 windows and are expanded to one
# token per window (`upsample=2`), each 32-px cell being 3/4 masked (loss weight 0.75).
_base_ = './localmim_swin-base-w7_8xb256-amp-coslr-100e_in1k.py'
model = dict(
    masker=dict(_delete_=True, type='UniformMasker', unit_size=16, secondary_ratio=0.25),
    encoder=dict(img_size=256, window_size=8, masking='compact', secondary_token=True),
    levels=[
        dict(tap='merged0',
             decoder=dict(type='LocalMIMDecoder', dims=64, num_heads=4, scale=None)),
        dict(tap='merged1',
             decoder=dict(type='LocalMIMDecoder', dims=128, num_heads=4, scale=None)),
        dict(tap='merged2', decoder=dict(
            type='LocalMIMDecoder', dims=128, num_heads=4, scale=None, upsample=2)),
        dict(tap='out', decoder=dict(
            type='LocalMIMDecoder', dims=128, num_heads=4, scale=None, upsample=2)),
    ])
image_size = 256
# the base's pipeline, its crop (the first step) at image_size
train_pipeline = [dict(_base_.train_pipeline[0], scale=image_size),
                  *_base_.train_pipeline[1:]]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
