"""Tiny overrides of downstream model configs (in place).

Backbones get the widths and depths of the tiny pretraining encoders
(``harness.TINY_ARCHS``), so a tiny pretraining checkpoint loads into them with
every tensor matched; windows, SR ratios and position-grid sizes stay the config's
(the converters resize what differs, as at full size). Necks and heads shrink their
256 / 1024 channels to 32 / 64 and see the tiny datasets' classes.
"""
from pathlib import Path
from typing import Callable, Dict, List

import torch
from harness import TINY_ARCHS, tiny_downstream_cfg
from mmengine.config import Config

CHANNEL_KEYS = ('in_channels', 'out_channels', 'feat_channels', 'conv_out_channels',
                'fc_out_channels', 'channels')
TINY_CHANNELS = {256: 32, 512: 32, 768: 32, 1024: 64}


def tiny_swin(backbone: dict) -> List[int]:
    """mmdet / mmseg ``SwinTransformer``: tiny arch; returns the stage widths."""
    arch = TINY_ARCHS['swin']
    backbone.update(embed_dims=arch['embed_dims'], depths=list(arch['depths']),
                    num_heads=list(arch['num_heads']))
    return [arch['embed_dims'] * 2**i for i in range(len(arch['depths']))]


def tiny_pvt(backbone: dict) -> List[int]:
    """mmdet ``PyramidVisionTransformer``: tiny arch; returns the stage widths."""
    arch = TINY_ARCHS['pvt']
    backbone.update(embed_dims=arch['embed_dims'], num_layers=list(arch['num_layers']),
                    num_heads=list(arch['num_heads']))
    return [arch['embed_dims'] * h for h in arch['num_heads']]


def tiny_vitdet(backbone: dict) -> int:
    """mmmim ``ViTDetBackbone``: the tiny ViT (4 blocks), blocks 2 and 4 global, windows
    of 4 x 4 patches, position grid of the 64-px tiny pretraining, global relative
    positions for 128-px inputs; returns its width."""
    arch = TINY_ARCHS['vit']
    backbone.update(arch=dict(arch), img_size=128, pretrain_img_size=64, window_size=4,
                    global_indices=(1, 3))
    return arch['embed_dims']


BACKBONES = {'SwinTransformer': tiny_swin, 'PyramidVisionTransformer': tiny_pvt,
             'ViTDetBackbone': tiny_vitdet}


def shrink_channels(node) -> None:
    """Neck / head widths from :data:`TINY_CHANNELS`, recursively."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in CHANNEL_KEYS and isinstance(value, int) and value in TINY_CHANNELS:
                node[key] = TINY_CHANNELS[value]
            else:
                shrink_channels(value)
    elif isinstance(node, list):
        for value in node:
            shrink_channels(value)


def set_num_classes(heads, num_classes: int) -> None:
    """``num_classes`` of a head config or a list of them (cascades)."""
    for head in heads if isinstance(heads, list) else [heads]:
        head['num_classes'] = num_classes


FEWER_PROPOSALS = {'nms_pre': 200, 'max_per_img': 100}


def fewer_proposals(node: Dict) -> None:
    """RPN proposals and R-CNN samples for 100-px images."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in FEWER_PROPOSALS and isinstance(value, int) and value > 100:
                node[key] = FEWER_PROPOSALS[key]
            elif key == 'sampler' and isinstance(value, dict) and value.get('num', 0) > 64:
                value['num'] = 64
            else:
                fewer_proposals(value)
    elif isinstance(node, list):
        for value in node:
            fewer_proposals(value)


def tiny_detector(model: dict, num_classes: int = 2) -> None:
    """A two-stage (Mask R-CNN, Cascade, HTC) or one-stage (GFL: a top-level
    ``bbox_head``) mmdet detector made tiny: backbone of the tiny pretraining arch,
    neck in_channels from it, 32-channel FPN and heads, ``num_classes`` in every bbox /
    mask head, fewer proposals."""
    channels = BACKBONES[model['backbone']['type'].split('.')[-1]](model['backbone'])
    neck = model['neck']
    shrink_channels(neck)
    neck['in_channels'] = channels
    for part in ('rpn_head', 'roi_head', 'bbox_head'):
        if part in model:
            shrink_channels(model[part])
    heads = model.get('roi_head', model)
    for key in ('bbox_head', 'mask_head'):
        if key in heads:
            set_num_classes(heads[key], num_classes)
    for part in ('train_cfg', 'test_cfg'):
        fewer_proposals(model.get(part, {}))


def tiny_coco_cfg(config: Path, checkpoint: Path, data: Path, work_dir: Path,
                  model_override: Callable[[dict], None] = tiny_detector, **kw) -> Config:
    """An mmdet config made tiny (``model_override``) on the tiny COCO data at ``data``
    (``harness.tiny_downstream_cfg``; ``kw`` goes there)."""
    from mimbench.tiny_data.coco import TINY_COCO_METAINFO
    return tiny_downstream_cfg(
        config, checkpoint, work_dir, model_override,
        dataset=dict(data_root=f'{data}/', metainfo=TINY_COCO_METAINFO),
        evaluator=dict(ann_file=f'{data}/annotations/instances_val2017.json'), **kw)


def build_detector(model_cfg: dict) -> torch.nn.Module:
    """An mmdet model config built and initialized as the Runner does (MIMPretrained
    runs here, so a backbone that did not load raises here)."""
    from mmdet.registry import MODELS
    from mmengine.config import ConfigDict
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    torch.manual_seed(0)
    model = MODELS.build(ConfigDict(model_cfg))  # mmdet reads train_cfg.rpn etc.
    model.init_weights()
    return model
