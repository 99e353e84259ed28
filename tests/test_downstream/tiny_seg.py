"""Tiny overrides of the UperNet (mmseg) configs, in place, and the tiny ADE data.

Backbones get the tiny pretraining encoders' widths and depths
(``harness.TINY_ARCHS``); windows, SR ratios and position grids stay the config's
(the converters resize what differs, as at full size). The ViT taps all four tiny
blocks (the configs' block choices are checked at full size). Heads shrink to 32 / 16
channels and the tiny data's classes; crops are 64 px (``SIZE_FACTOR`` of 512).
"""
from pathlib import Path
from typing import List

import torch
from harness import TINY_ARCHS, tiny_downstream_cfg
from mmengine.config import Config
from tiny_detection import tiny_pvt, tiny_swin

from mimbench.tiny_data.ade import TINY_ADE_CLASSES, TINY_ADE_METAINFO

SIZE_FACTOR = 1 / 8
CROP = 64


def tiny_mae(backbone: dict) -> List[int]:
    """mmseg ``MAE``: the tiny ViT, 64-px input, all four blocks tapped."""
    arch = TINY_ARCHS['vit']
    backbone.update(embed_dims=arch['embed_dims'], num_layers=arch['num_layers'],
                    num_heads=arch['num_heads'], img_size=(CROP, CROP),
                    mlp_ratio=arch['feedforward_channels'] // arch['embed_dims'],
                    out_indices=list(range(arch['num_layers'])))
    return [arch['embed_dims']] * arch['num_layers']


SEG_BACKBONES = {'MAE': tiny_mae, 'SwinTransformer': tiny_swin,
                 'PyramidVisionTransformer': tiny_pvt}


def tiny_segmentor(model: dict) -> None:
    """An UperNet config made tiny: backbone, neck width, heads, slide crops."""
    channels = SEG_BACKBONES[model['backbone']['type'].split('.')[-1]](model['backbone'])
    if model.get('neck'):
        model['neck']['embed_dims'] = channels[0]
    classes = len(TINY_ADE_CLASSES)
    model['decode_head'].update(in_channels=channels, channels=32, num_classes=classes)
    aux = model['auxiliary_head']
    aux.update(in_channels=channels[aux['in_index']], channels=16, num_classes=classes)
    if model['test_cfg'].get('mode') == 'slide':
        stride = round(model['test_cfg']['stride'][0] * SIZE_FACTOR)
        model['test_cfg'].update(crop_size=(CROP, CROP), stride=(stride, stride))


def tiny_ade_cfg(config: Path, checkpoint: Path, data: Path, work_dir: Path, **kw) -> Config:
    """An UperNet config made tiny on the tiny ADE data at ``data``."""
    dataset = dict(type='BaseSegDataset', data_root=str(data), metainfo=TINY_ADE_METAINFO,
                   reduce_zero_label=True, img_suffix='.jpg', seg_map_suffix='.png')
    return tiny_downstream_cfg(config, checkpoint, work_dir, tiny_segmentor, dataset=dataset,
                               evaluator={}, size_factor=SIZE_FACTOR, **kw)


def build_segmentor(model_cfg: dict) -> torch.nn.Module:
    """An mmseg model config built and initialized as the Runner does (MIMPretrained
    runs here, so a backbone that did not load raises here)."""
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    import mmmim.converters  # noqa: F401
    import mmmim.models  # noqa: F401
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    model.init_weights()
    return model
