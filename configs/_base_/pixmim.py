# PixMIM's two changes as a plug-in for any pixel-target config (Liu et al., arXiv
# 2303.02416), stated once. A config keeps its own base and states
#     model = dict(target=dict(filters={{_base_.pixmim_filters}}))
#     train_pipeline = {{_base_.pixmim_pipeline_224}}   (or pixmim_pipeline_256)
#     train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
# with this file as a second base.

# ideal circular low-pass, radius 40 bins at 224 px (~10% of the bins; 45.7 bins at
# 256 px: the same cut-off in cycles per pixel), magnitude of the inverse FFT as the
# PixMIM code, ahead of the target's own per-patch normalization; mean/std come from
# the data preprocessor
pixmim_filters = [dict(type='LowPassFilter', radius=40, reference_size=224,
                       output='magnitude')]


def _conservative_crop_pipeline(size):
    """Resize the shorter side to ``size``, random ``size`` crop with 4-px reflect
    padding, flip."""
    return [
        # LoadImageSafely + ConservativeCrop in one step, the JPEG decoded at the largest
        # DCT reduction that keeps the shorter side >= size (mmmim/datasets/fast_crop.py)
        dict(type='LoadAndConservativeCrop', crop_size=size, padding=4,
             interpolation='bicubic'),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackInputs'),
    ]


pixmim_pipeline_224 = _conservative_crop_pipeline(224)
pixmim_pipeline_256 = _conservative_crop_pipeline(256)
