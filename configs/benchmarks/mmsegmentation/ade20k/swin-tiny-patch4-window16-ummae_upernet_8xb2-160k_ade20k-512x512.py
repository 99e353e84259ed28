# UperNet Swin-T with UM-MAE's segmentation protocol (implus/UM-MAE SEG/configs/upernet/
# upernet_mae_swin_tiny_256_mask_vmr025_200e_100e_512_slide_160k_ade20k_lr1e4_lrd1_pt.py),
# ADE20K 512 x 512, 160k iterations, 8 GPUs x 2. Start from the ImageNet-1K FINE-TUNED
# classifier, as UM-MAE did (its `pretrained` is finetune_.../checkpoint-99.pth): ours is
# work_dirs/swin-tiny-w16_8xb128-ft-ld0.85-coslr-100e_in1k-256px/epoch_100.pth
# (docs/downstream_seg.md, "UM-MAE: pretrain, fine-tune, segment").
# Differences from the supervised Swin-T config beside it (mmseg's recipe):
# window 16 (UM-MAE's fine-tune window; the classifier's 16/16/16/8 tables load
# unchanged in stages 0-2, stage 3's 8 is resized to 16), drop path 0.1 (not 0.3),
# AdamW lr 1e-4 / wd 0.05 (not 6e-5 / 0.01), no layer decay, head width 768 (not 512),
# slide test 512 / 341 (not whole image), weight decay on every parameter but the 1-D
# ones (UM-MAE's SEG constructor: norms and biases exempt, bias tables decayed).
# Not as UM-MAE: its 1x1 projections of each stage to 768 (linear, no norm) feed the
# head; here the head reads the stage maps, and its own 1x1 lateral convs (and the
# auxiliary head's 3x3 conv) compose with such a projection into one linear map, so
# the function class is the same but the parametrization differs. mmseg's Swin adds
# an output LayerNorm per stage (UM-MAE has none) and shifts the stage-4 windows
# even where the 16 x 16 map equals the window (UM-MAE does not shift there). UM-MAE
# biases by a position MLP on log-spaced true offsets; we use bias tables, resized
# bicubically (docs/downstream_seg.md). fp16 (apex) there: add --amp here.
# Target: none quoted (the UM-MAE paper's ADE20K table was not read).
_base_ = ['./swin-tiny-patch4-window7_upernet_8xb2-160k_ade20k-512x512.py']

model = dict(
    backbone=dict(window_size=16, drop_path_rate=0.1),
    decode_head=dict(channels=768),
    test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(341, 341)))

optim_wrapper = dict(
    optimizer=dict(lr=1e-4, weight_decay=0.05),
    paramwise_cfg=dict(layer_decay_rate=1.0, no_decay_1d=True, no_decay_names=(),
                       no_decay_norms=None))
