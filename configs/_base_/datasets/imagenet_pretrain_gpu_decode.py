# GPU-decode mode of imagenet_pretrain.py, for GPU nodes whose CPUs cannot keep up with
# JPEG decoding: the loader workers only read the file bytes and draw the crop (from
# the JPEG header's size, with RandomResizedCrop's distribution and random numbers) and
# the flip; the model's data preprocessor decodes the batch on the GPU (nvJPEG through
# torchvision.io.decode_jpeg), crops, resizes (bicubic, antialiased) and flips it, then
# normalizes as before. Non-JPEG files (and CMYK or EXIF-rotated JPEGs) are decoded in
# the workers. mmmim.datasets.gpu_decode has the details.
#
# A config using it also names the preprocessor in its model (a model's own
# data_preprocessor wins over a top-level one; mean / std stay the model config's):
#     model = dict(data_preprocessor=dict(type='GPUDecodePreprocessor'))
_base_ = './imagenet_pretrain.py'

# the preprocessor is registered by mmmim.datasets (the model registry imports only
# mmmim.models on its own)
custom_imports = dict(imports=['mmmim.datasets'], allow_failed_imports=False)

image_size = 224
train_pipeline = [
    dict(type='LoadImageBytes'),
    dict(type='DrawResizedCrop', scale=image_size, crop_ratio_range=(0.2, 1.0)),
    dict(type='DrawFlip', prob=0.5),
    dict(type='PackBytes'),
]
# pseudo_collate: the byte strings differ in length (a list, not a stacked tensor)
train_dataloader = dict(collate_fn=dict(type='pseudo_collate'),
                        dataset=dict(pipeline=train_pipeline))
