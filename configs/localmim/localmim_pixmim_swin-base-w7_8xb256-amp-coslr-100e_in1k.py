# LocalMIM Swin-B (pixels) with PixMIM's two changes, 100 epochs: the low-pass filter
# (radius 40 bins at 224 px, magnitude of the inverse FFT as the PixMIM code) runs
# once on the image in front of all four per-patch normalized pixel targets
# (8/16/32/32 px), and the conservative crop replaces RandomResizedCrop. A
# combination no published code has.
_base_ = ['./localmim_swin-base-w7_8xb256-amp-coslr-100e_in1k-pixel.py', '../_base_/pixmim.py']
model = dict(target=dict(filters={{_base_.pixmim_filters}}))
train_pipeline = {{_base_.pixmim_pipeline_224}}
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
