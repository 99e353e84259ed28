# LocalMIM Swin-B (pixels), 100 epochs: the HOG recipe with per-patch normalized
# pixels at 8/16/32/32-px patches as the targets.
_base_ = './localmim_swin-base-w7_8xb256-amp-coslr-100e_in1k.py'
model = dict(target=dict(_delete_=True, type='MultiScalePixelTarget',
                         patch_sizes=(8, 16, 32, 32), normalize=True),
             levels=[
                 dict(tap='merged0', target='pix8',
                      decoder=dict(type='LocalMIMDecoder', dims=64, num_heads=4, scale=None)),
                 dict(tap='merged1', target='pix16',
                      decoder=dict(type='LocalMIMDecoder', dims=128, num_heads=4, scale=None)),
                 dict(tap='merged2', target='pix32',
                      decoder=dict(type='LocalMIMDecoder', dims=128, num_heads=4, scale=None)),
                 dict(tap='out', target='pix32',
                      decoder=dict(type='LocalMIMDecoder', dims=128, num_heads=4, scale=None)),
             ])
