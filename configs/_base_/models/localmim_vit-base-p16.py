# LocalMIM ViT-B/16: random 75% masking, encoder on visible units; decoders tapped
# after blocks 2/4/10/12 (0-based 1/3/9 and the final normed output), each 256-d x 1
# block with its own mask token, rescaled x4/x2/x1/x0.5 onto 4/8/16/32-px HOG cells
# (9 bins, 3 x 9 features per cell); masked-cell MSE per scale, summed with weight 1.
# LocalMIMDecoder's defaults are the paper's ViT decoder (256-d, 1 block, 8 heads).
_base_ = './pretrain_data_preprocessor.py'  # model.data_preprocessor (mean / std)
model = dict(
    type='MultiLevelMaskedImageModel',
    masker=dict(type='RandomMasker', ratio=0.75, unit_size=16),
    encoder=dict(type='MaskedViT', arch='b', img_size=224, patch_size=16),
    levels=[
        dict(tap='block1', decoder=dict(type='LocalMIMDecoder', scale=4)),
        dict(tap='block3', decoder=dict(type='LocalMIMDecoder', scale=2)),
        dict(tap='block9', decoder=dict(type='LocalMIMDecoder', scale=1)),
        dict(tap='out', decoder=dict(type='LocalMIMDecoder', scale=0.5)),
    ],  # each level may also set `weight` (default 1.0)
    target=dict(type='HOGTarget', nbins=9, cell_sizes=(4, 8, 16, 32)),
    loss=dict(type='MaskedReconstructionLoss', criterion='mse'),
    isolate_levels=False,  # True: each level's blocks trained by its own decoder only
)
