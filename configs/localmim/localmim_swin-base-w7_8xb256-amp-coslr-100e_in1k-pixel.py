# LocalMIM Swin-B (pixels), 100 epochs: the HOG recipe with per-patch normalized
# pixels at 8/16/32/32-px patches as the targets (level i reads scale i).
_base_ = './localmim_swin-base-w7_8xb256-amp-coslr-100e_in1k.py'
model = dict(target=dict(_delete_=True, type='MultiScalePixelTarget',
                         patch_sizes=(8, 16, 32, 32), normalize=True))
