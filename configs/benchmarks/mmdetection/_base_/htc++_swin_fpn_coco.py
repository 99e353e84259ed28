# HTC++ on COCO (docs/downstream_htc.md): mmdet 3.3's Hybrid Task Cascade with the
# COCO-stuff semantic branch, plus the Swin paper's additions as ViT-Adapter writes
# them for mmdet 2.x (czczup/ViT-Adapter detection/configs/htc++):
# - Swin-B backbone (window 7, drop path 0.3) loaded at the detector level from an
#   mmmim pretraining checkpoint (MIMPretrained, submodule='backbone'; the backbone
#   itself has convert_weights=False and init_cfg=None so that it loads nothing);
# - one extra global self-attention block on the last stage, before the FPN;
# - 4conv1fc box heads in all three stages;
# - soft-NMS for RPN proposals (train and test) and for the final boxes;
# - multi-scale training: short side 400-1400, long side <= 1600; single-scale test
#   at (1600, 1400) (mmdet 3.3 has no test-time augmentation for instance masks);
# - AdamW lr 1e-4, wd 0.05, batch 16 x 1, no weight decay on position tables, norms
#   and biases; layer decay 1.0 (none, as ViT-Adapter's Swin HTC++ and UM-MAE's own
#   Swin fine-tuning downstream); 3x schedule (36 epochs, steps 27 / 33, warm-up 500
#   iterations).
# InstaBoost is not here (an optional package): `instaboost` below is the step the
# InstaBoost variants insert after LoadImageFromFile.
_base_ = 'mmdet::htc/htc_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmmim.models', 'mmmim.converters', 'mmmim.engine'],
                      allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True, type='SwinTransformer', embed_dims=128, depths=[2, 2, 18, 2],
        num_heads=[4, 8, 16, 32], window_size=7, mlp_ratio=4, qkv_bias=True,
        drop_path_rate=0.3, patch_norm=True, out_indices=(0, 1, 2, 3), with_cp=False,
        convert_weights=False, init_cfg=None),
    neck=dict(
        _delete_=True, type='mmmim.GlobalAttentionFPN', num_heads=32, mlp_ratio=4.0,
        drop_path_rate=0.3,
        fpn=dict(type='FPN', in_channels=[128, 256, 512, 1024], out_channels=256,
                 num_outs=5)),
    roi_head=dict(bbox_head=[dict(head, type='Shared4Conv1FCBBoxHead')
                             for head in _base_.model.roi_head.bbox_head]),
    train_cfg=dict(rpn_proposal=dict(nms=dict(type='soft_nms', iou_threshold=0.7))),
    test_cfg=dict(rpn=dict(nms=dict(type='soft_nms', iou_threshold=0.7)),
                  rcnn=dict(nms=dict(type='soft_nms', iou_threshold=0.5))),
    # the launch tools set the checkpoint (or --cfg-options model.init_cfg.checkpoint=...)
    init_cfg=dict(type='MIMPretrained', checkpoint=None, submodule='backbone'))

train_pipeline = [
    dict(type='RandomResize', scale=[(1600, 400), (1600, 1400)], keep_ratio=True)
    if step.type == 'Resize' else step for step in _base_.train_pipeline]
test_pipeline = [
    dict(step, scale=(1600, 1400)) if step.type == 'Resize' else step
    for step in _base_.test_pipeline]
train_dataloader = dict(batch_size=1, num_workers=2, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
instaboost = dict(
    type='InstaBoost', action_candidate=('normal', 'horizontal', 'skip'),
    action_prob=(1, 0, 0), scale=(0.8, 1.2), dx=15, dy=15, theta=(-1, 1),
    color_prob=0.5, hflag=False, aug_ratio=0.5)

optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='mmmim.LayerDecayOptimWrapperConstructor',
    # weight decay as ViT-Adapter's HTC++ (mmdet's Swin rule): 0 for norm layers,
    # absolute_pos_embed and relative_position_bias_table; biases decayed
    paramwise_cfg=dict(layer_decay_rate=1.0, no_decay_1d=False, no_decay_norms='all',
                       no_decay_names=('absolute_pos_embed',
                                       'relative_position_bias_table')))
max_epochs = 36
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    _base_.param_scheduler[0],                            # linear warm-up, 500 iterations
    dict(_base_.param_scheduler[1], end=max_epochs, milestones=[27, 33])]
auto_scale_lr = dict(base_batch_size=16)
default_hooks = dict(checkpoint=dict(max_keep_ckpts=3))

# Deltas the variant configs apply (a config has one chain of `_base_` files, so the
# deltas that cut across it are kept here as values):
# Swin-L, window 12 as ViT-Adapter's Swin-L HTC++ (`model = _base_.swin_large`)
swin_large = dict(
    backbone=dict(embed_dims=192, num_heads=[6, 12, 24, 48], window_size=12),
    neck=dict(num_heads=48, fpn=dict(in_channels=[192, 384, 768, 1536])))
# 6x: 72 epochs, lr x0.1 at epochs 63 and 69 (`param_scheduler = _base_.schedule_6x`)
schedule_6x = [param_scheduler[0], dict(param_scheduler[1], end=72, milestones=[63, 69])]
# no COCO-stuff semantic branch (no stuffthingmaps needed)
without_semantic = dict(
    model=dict(data_preprocessor=dict(pad_seg=False),
               roi_head=dict(semantic_roi_extractor=None, semantic_head=None)),
    train_dataloader=dict(dataset=dict(
        data_prefix=dict(_delete_=True, img='train2017/'),
        pipeline=[dict(step, with_seg=False) if step['type'] == 'LoadAnnotations' else step
                  for step in train_pipeline])))
