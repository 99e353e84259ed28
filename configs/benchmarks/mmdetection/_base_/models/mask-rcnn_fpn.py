# Mask R-CNN + FPN for a pretrained transformer backbone (mmdet's
# mask-rcnn_r50_fpn.py). The backbone is loaded by mmmim's MIMPretrained on the
# detector (submodule='backbone'): it converts a raw mmmim pretraining checkpoint or
# an mmpretrain classifier (backbone.*), logs the load report and fails at build time
# when the backbone did not load. The backbones set init_cfg=None so that they do
# not read a checkpoint themselves (mmdet's Swin / PVT would: docs/downstream.md).
# PRETRAIN goes to model.init_cfg.checkpoint (tools/benchmarks/mmdetection/*.sh).
_base_ = 'mmdet::_base_/models/mask-rcnn_r50_fpn.py'

custom_imports = dict(imports=['mmmim.converters', 'mmmim.engine'],
                      allow_failed_imports=False)
model = dict(
    init_cfg=dict(type='MIMPretrained', checkpoint=None, submodule='backbone'),
    backbone=dict(_delete_=True, init_cfg=None))
