# LocalMIM Swin-B at 224 px (window 7): 37 of the 49 32-px units masked, mask tokens
# on the full grid (the paper used GreenMIM's sparse encoder, see docs/localmim.md);
# one decoder per stage, fed the stage output after its patch merging (28/14/7/7
# tokens; the last one is the encoder's normed output), 64/128/128/128-d x 1 block,
# 4 heads, Linear head; HOG targets at 8/16/32/32-px cells (18 bins, frozen Sobel
# bias ~ PyTorch's default conv-bias init, std 1/(3*sqrt(3))).
_base_ = './pretrain_data_preprocessor.py'  # model.data_preprocessor (mean / std)
model = dict(
    type='MultiLevelMaskedImageModel',
    masker=dict(type='RandomMasker', ratio=0.75, unit_size=32),
    encoder=dict(type='MaskedSwin', arch='base', img_size=224, window_size=7,
                 masking='mask_token'),
    levels=[
        dict(tap='merged0',
             decoder=dict(type='LocalMIMDecoder', dims=64, num_heads=4, scale=None)),
        dict(tap='merged1',
             decoder=dict(type='LocalMIMDecoder', dims=128, num_heads=4, scale=None)),
        dict(tap='merged2',
             decoder=dict(type='LocalMIMDecoder', dims=128, num_heads=4, scale=None)),
        dict(tap='out',
             decoder=dict(type='LocalMIMDecoder', dims=128, num_heads=4, scale=None)),
    ],
    target=dict(type='HOGTarget', nbins=18, cell_sizes=(8, 16, 32, 32),
                sobel_bias_std=0.19245),
    loss=dict(type='MaskedReconstructionLoss', criterion='mse'),
    isolate_levels=False,
)
