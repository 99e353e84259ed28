# UperNet shared by the mmseg benchmarks: mmseg's EncoderDecoder with UPerHead on
# four backbone maps and an FCN auxiliary head (weight 0.4) on the third, 150 ADE20K
# classes, 512 x 512 crops. Each config states its backbone (and neck), the heads'
# in_channels / channels and its test mode.
#
# Loading: the pretrained backbone comes from MIMPretrained on the segmentor
# (submodule='backbone'); mim_dist_train.sh PRETRAIN sets model.init_cfg.checkpoint.
# A raw mmmim pretraining checkpoint (encoder.*) and a fine-tuned mmpretrain classifier
# (backbone.*) both load, through the family's '<family>->mmseg' / 'pvt->mmdet'
# converter; the load report is logged and a backbone that did not load stops the run
# before the first iteration. model.pretrained and the backbone's own init_cfg stay
# None: mmseg's MAE backbone ignores `prefix` and never reads 'model', its Swin keeps
# only unprefixed / backbone.* keys, and BEiT asserts not (init_cfg and pretrained).
_base_ = ['mmseg::_base_/models/upernet_r50.py']
custom_imports = dict(
    imports=['mmmim.converters', 'mmmim.models', 'mmmim.engine'], allow_failed_imports=False)

model = dict(
    data_preprocessor=dict(size=(512, 512)),  # the ADE20K crop
    pretrained=None,
    init_cfg=dict(type='MIMPretrained', checkpoint=None, submodule='backbone'),
    backbone=dict(_delete_=True),  # every config states its own backbone
    decode_head=dict(num_classes=150),
    auxiliary_head=dict(num_classes=150))
