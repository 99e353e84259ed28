# SimMIM Swin-B at 192 px (SimMIM's simmim_pretrain__swin_base__img192_window6__100ep):
# 60% of the 32-px units masked, mask tokens on the full grid (window 6), linear
# decoder to the 32x32x3 pixels under each last-stage token, L1 on the masked pixels
# (in the normalized space); drop path 0.0 as SimMIM's recipe (mmpretrain's config
# of it uses 0.1).
_base_ = './pretrain_data_preprocessor.py'  # model.data_preprocessor (mean / std)
model = dict(
    type='MaskedImageModel',
    masker=dict(type='BlockMasker', ratio=0.6, unit_size=32),
    encoder=dict(type='MaskedSwin', arch='base', img_size=192, window_size=6,
                 masking='mask_token', drop_path_rate=0.0),
    decoder=dict(type='SimMIMDecoder'),
    target=dict(type='PixelTarget', patch_size=32, normalize=False),
    loss=dict(type='MaskedReconstructionLoss', criterion='l1'),
)
