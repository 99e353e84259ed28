# PixMIM ViT-B/16, 300 epochs, with the real part of the inverse FFT as the low-pass
# target instead of the paper code's magnitude: the linear ideal low-pass, which keeps
# the negative ringing next to dark regions instead of folding it up and does not
# depend on the normalization statistics (docs/targets.md measures the difference).
_base_ = './pixmim_vit-base-p16_8xb512-amp-coslr-300e_in1k.py'
model = dict(target=dict(filters=[dict(type='LowPassFilter', radius=40, reference_size=224,
                                       output='real')]))
