# LocalMIM on the digits: the MAE digits encoder and masking, a 32-d 1-block decoder
# after each of the 4 blocks (LocalMIM's x4 / x2 / x1 / x0.5 heads on the 4-px
# patches) predicting HOG on 1 / 2 / 4 / 8-px cells.
_base_ = ['../_base_/models/localmim_vit-base-p16.py', './_base_/digits.py']
model = dict(
    masker=dict(unit_size=4),
    encoder=dict(arch=dict(_base_.vit_tiny, _delete_=True), img_size=_base_.image_size,
                 patch_size=4),
    levels=[
        dict(tap='block0', decoder=dict(type='LocalMIMDecoder', dims=32, num_heads=4, scale=4)),
        dict(tap='block1', decoder=dict(type='LocalMIMDecoder', dims=32, num_heads=4, scale=2)),
        dict(tap='block2', decoder=dict(type='LocalMIMDecoder', dims=32, num_heads=4, scale=1)),
        dict(tap='out', decoder=dict(type='LocalMIMDecoder', dims=32, num_heads=4, scale=0.5)),
    ],
    target=dict(cell_sizes=(1, 2, 4, 8)))
