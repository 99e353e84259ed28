# MAE ViT-B/16: random 75% masking, encoder on visible units, 512-d x 8 decoder,
# per-patch normalized pixel target, MSE on masked patches.
_base_ = './pretrain_data_preprocessor.py'  # model.data_preprocessor (mean / std)
model = dict(
    type='MaskedImageModel',
    masker=dict(type='RandomMasker', ratio=0.75, unit_size=16),
    encoder=dict(type='MaskedViT', arch='b', img_size=224, patch_size=16),
    decoder=dict(type='MAEDecoder', dims=512, depth=8, num_heads=16),
    target=dict(type='PixelTarget', patch_size=16, normalize=True),
    loss=dict(type='MaskedReconstructionLoss', criterion='mse'),
)
