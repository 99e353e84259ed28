# LocalMIM's decoders on the UM-MAE digits pyramid (a combination no paper shipped):
# UM-MAE's masker and compact-grid encoder, a 32-d 1-block LocalMIM decoder on each
# stage output after its patch merging (4-px taps scattered back to their units; the
# 8-px taps cover 2x2 windows of units and are expanded to one token per unit), HOG on
# 4 / 8 / 8-px cells, in place of UM-MAE's decoder and pixel target.
_base_ = ['./ummae_swin-d32-w4_1xb128_digits.py']
model = dict(
    _delete_=True,
    type='MultiLevelMaskedImageModel',
    data_preprocessor=_base_.model.data_preprocessor,
    masker=_base_.model.masker,
    encoder=_base_.model.encoder,
    levels=[
        dict(tap='merged0',
             decoder=dict(type='LocalMIMDecoder', dims=32, num_heads=4, scale=None)),
        dict(tap='merged1', decoder=dict(
            type='LocalMIMDecoder', dims=32, num_heads=4, scale=None, upsample=2)),
        dict(tap='out', decoder=dict(
            type='LocalMIMDecoder', dims=32, num_heads=4, scale=None, upsample=2)),
    ],
    target=dict(type='HOGTarget', nbins=9, cell_sizes=(4, 8, 8)),
    loss=_base_.model.loss)
