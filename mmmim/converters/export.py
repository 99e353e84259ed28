"""Export a pretraining checkpoint as a folder timm loads offline.

``export_timm(ckpt, out, arch)`` writes (timm's own Hugging Face layout, the one
``timm.create_model('local-dir:OUT', pretrained=True)`` and the Hub read):

- ``model.safetensors``: the encoder converted by the registered ``'<family>->timm'``
  converter, the load report as JSON in the metadata;
- ``config.json``: ``architecture`` (a timm model name), ``num_classes`` (0: a
  feature extractor), ``num_features``, ``global_pool``, ``model_args`` (every
  dimension read from the built encoder, so a tiny or odd-sized encoder rebuilds
  exactly whatever ``arch``'s defaults are) and ``pretrained_cfg`` (``input_size``,
  ``mean`` / ``std`` of the pretraining data preprocessor, interpolation...);
- ``README.md``: a model card with the pretraining config, epochs, the load report
  and the export check.

The pretraining config comes from the checkpoint's ``meta['cfg']`` (mmengine's
runner stores it) or ``config``. The check builds our encoder from the config,
loads the checkpoint into it and compares its features on random images with those
of the timm model built from the folder.
"""
import json
import os.path as osp
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.config import Config
from torch import nn

from .common import PRETRAIN_ONLY, convert_checkpoint, split_backbone
from .files import read_source, report_metadata, save_safetensors
from .initializer import detect_family
from .report import LoadReport

WEIGHTS_FILE = 'model.safetensors'
#: timm architecture used when none is given, per family (``model_args`` carry the
#: real dimensions, so the name only picks the model class and its defaults).
DEFAULT_ARCH = {'vit': 'vit_base_patch16_224', 'swin': 'swin_base_patch4_window7_224'}
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class ExportError(ValueError):
    """The checkpoint cannot be exported as asked; the message says why."""


@dataclass
class Pretraining:
    """What a pretraining checkpoint tells about itself.

    Attributes:
        path: the checkpoint file.
        checkpoint: its content (``state_dict`` / ``meta`` ...).
        cfg: the pretraining config.
        config_source: where ``cfg`` came from (the checkpoint's meta, or a file).
        config_name: the config file's name, else the run's ``experiment_name``.
        epoch: epochs trained when saved (``meta['epoch']``), if known.
        max_epochs: the run's planned epochs (``train_cfg.max_epochs``), if known.
        iteration, max_iters: the same in iterations (``meta['iter']``,
            ``train_cfg.max_iters`` of an iteration-based run).
    """
    path: str
    checkpoint: dict
    cfg: Config
    config_source: str
    config_name: str = 'unknown'
    epoch: Optional[int] = None
    max_epochs: Optional[int] = None
    iteration: Optional[int] = None
    max_iters: Optional[int] = None
    notes: List[str] = field(default_factory=list)

    def progress(self) -> str:
        """'3 of 400 epochs', '2000 of 5000 iterations', or what is known."""
        def part(done, total, unit):
            return f'{done} of {total} {unit}' if total else f'{done} {unit}'
        if self.max_iters and self.iteration is not None:
            return part(self.iteration, self.max_iters, 'iterations')
        if self.epoch is not None:
            return part(self.epoch, self.max_epochs, 'epochs')
        return 'unknown'


def read_pretraining(path: str, config: Optional[str] = None) -> Pretraining:
    """Read a checkpoint and its pretraining config (``config`` wins over the
    checkpoint's ``meta['cfg']``); ExportError when neither exists."""
    checkpoint = read_source(path)
    meta = checkpoint.get('meta') or {}
    if config:
        cfg, source = Config.fromfile(config), config
        name = osp.splitext(osp.basename(config))[0]
    elif isinstance(meta.get('cfg'), str):
        cfg, source = Config.fromstring(meta['cfg'], '.py'), 'the checkpoint (meta.cfg)'
        name = str(meta.get('experiment_name', 'unknown'))
    else:
        raise ExportError(f'{path} carries no pretraining config (meta.cfg): pass '
                          '--config CONFIG, the config it was trained with')
    if 'model' not in cfg or 'encoder' not in cfg.model:
        raise ExportError(f'the config from {source} has no model.encoder: not an '
                          'mmmim pretraining config')
    train_cfg = cfg.get('train_cfg') or {}
    return Pretraining(path, checkpoint, cfg, source, name, meta.get('epoch'),
                       train_cfg.get('max_epochs'), meta.get('iter'), train_cfg.get('max_iters'))


def build_module(cfg: dict, state: Dict[str, torch.Tensor], source: str) -> nn.Module:
    """Build a registered mmmim module from ``cfg`` (its ``init_cfg`` dropped) and load
    ``state`` strictly: ExportError naming the keys that do not fit (pretraining-only
    tokens the config does not build are ignored). Returned in eval mode."""
    from mmengine.registry import DefaultScope

    import mmmim.models  # noqa: F401  (registers the modules)
    from mmmim.registry import MODELS
    cfg = dict(cfg)
    cfg.pop('init_cfg', None)
    with DefaultScope.overwrite_default_scope('mmmim'):
        module = MODELS.build(cfg)
    missing, unexpected = module.load_state_dict(state, strict=False)
    unexpected = [k for k in unexpected if k.split('.')[-1] not in PRETRAIN_ONLY]
    if missing or unexpected:
        raise ExportError(f'the checkpoint ({source}) does not fit the config\'s '
                          f'{cfg.get("type")}: missing {sorted(missing)[:6]}, '
                          f'unexpected {sorted(unexpected)[:6]}')
    module.eval()  # mmpretrain's train() returns None: no chaining
    return module


def build_encoder(pre: Pretraining) -> nn.Module:
    """Our encoder from the config with the checkpoint's ``encoder.*`` tensors."""
    state, source, _ = split_backbone(pre.checkpoint)
    return build_module(pre.cfg.model.encoder, state, source)


def data_normalization(cfg: Config) -> Tuple[Tuple[float, ...], Tuple[float, ...], str]:
    """(mean, std) on the 0-1 scale timm uses, and a note on where they came from:
    the model's data preprocessor (0-255 values are divided by 255), else ImageNet's."""
    prep = cfg.model.get('data_preprocessor') or cfg.get('data_preprocessor') or {}
    mean, std = prep.get('mean'), prep.get('std')
    if mean is None or std is None:
        return IMAGENET_MEAN, IMAGENET_STD, 'ImageNet defaults (the config sets none)'
    scale = 255. if max(mean) > 1 else 1.
    order = 'RGB' if prep.get('bgr_to_rgb') else 'as the pipeline loads it'
    return (tuple(round(m / scale, 6) for m in mean), tuple(round(s / scale, 6) for s in std),
            f'the pretraining data preprocessor (channel order {order})')


def vit_model_args(encoder: nn.Module) -> Dict:
    """timm ``VisionTransformer`` arguments rebuilding our ``MaskedViT``."""
    if not encoder.final_norm or not isinstance(encoder.pre_norm, nn.Identity):
        raise ExportError('timm export needs final_norm=True and no pre_norm')
    layer = encoder.layers[0]
    patch = encoder.patch_size
    height, width = (g * patch for g in encoder.patch_resolution)
    return dict(img_size=height if height == width else [height, width], patch_size=patch,
                embed_dim=encoder.embed_dims, depth=encoder.num_layers,
                num_heads=layer.attn.num_heads,
                mlp_ratio=layer.ffn.feedforward_channels / encoder.embed_dims,
                qkv_bias=layer.attn.qkv.bias is not None,
                class_token=encoder.cls_token is not None)


def swin_windows(encoder: nn.Module) -> List[int]:
    """Per-stage window side of our Swin (from the stages' attention modules)."""
    return [int(stage.blocks[0].attn.w_msa.window_size[0]) for stage in encoder.stages]


def swin_model_args(encoder: nn.Module, img_size: int) -> Dict:
    """timm ``SwinTransformer`` arguments rebuilding our ``MaskedSwin``."""
    if getattr(encoder, 'use_abs_pos_embed', False):
        raise ExportError('timm export of a Swin with an absolute position embedding '
                          'is not supported')
    block = encoder.stages[0].blocks[0]
    return dict(img_size=img_size, patch_size=encoder.patch_embed.projection.kernel_size[0],
                window_size=max(swin_windows(encoder)), embed_dim=encoder.embed_dims,
                depths=[len(s.blocks) for s in encoder.stages],
                num_heads=[s.blocks[0].attn.w_msa.num_heads for s in encoder.stages],
                mlp_ratio=block.ffn.feedforward_channels / encoder.embed_dims)


def timm_windows(args: Dict) -> List[int]:
    """The window timm's Swin uses in each stage: the configured one, clamped to the
    stage's token grid at ``img_size``."""
    side = args['img_size'] // args['patch_size']
    return [min(args['window_size'], side // 2**i) for i in range(len(args['depths']))]


def timm_pretrained_cfg(arch: str, input_hw, mean, std) -> Dict:
    """``pretrained_cfg`` of config.json: ``arch``'s defaults without any weight
    source or classifier labels, with our input size and normalization."""
    from timm.models import get_pretrained_cfg
    base = get_pretrained_cfg(arch)
    cfg = {k: v for k, v in (base.to_dict() if base else {}).items()
           if v is not None and k not in ('url', 'hf_hub_id', 'file', 'state_dict', 'source',
                                          'tag', 'license', 'label_names',
                                          'label_descriptions', 'test_input_size',
                                          'test_crop_pct', 'pool_size')}
    cfg.update(architecture=arch, input_size=[3, *input_hw], mean=list(mean), std=list(std),
               num_classes=0, custom_load=False, fixed_input_size=True)
    cfg.setdefault('interpolation', 'bicubic')
    return cfg


@dataclass
class Export:
    """What :func:`export_timm` wrote and checked."""
    out: str
    arch: str
    family: str
    model_args: Dict
    report: LoadReport
    max_abs_diff: Optional[float] = None
    notes: List[str] = field(default_factory=list)
    #: False when timm's architecture differs from ours by design (Swin windows of
    #: compact masking): the check then reports the difference without failing.
    exact: bool = True


def export_timm(ckpt: str, out: str, arch: Optional[str] = None,
                config: Optional[str] = None, verify: bool = True) -> Export:
    """Write the timm folder for ``ckpt`` (see the module doc) and, with ``verify``,
    check that timm's features equal our encoder's (ExportError if they do not)."""
    import timm
    pre = read_pretraining(ckpt, config)
    family = detect_family(pre.checkpoint)
    if family not in DEFAULT_ARCH:
        raise ExportError(f'timm export supports {sorted(DEFAULT_ARCH)}, not {family}')
    arch = arch or DEFAULT_ARCH[family]
    if not timm.is_model(arch):
        raise ExportError(f'{arch!r} is not a timm model name (timm.list_models())')
    encoder = build_encoder(pre)
    export = Export(out, arch, family, {}, LoadReport('none'), notes=list(pre.notes))
    kwargs = _family_args(export, encoder, pre)
    converted, export.report = convert_checkpoint(pre.checkpoint, family, 'timm', **kwargs)
    export.report.source += f' from {ckpt}'
    model = _build_timm(arch, export.model_args, family)
    _check_keys(model, converted, export.report, arch)
    mean, std, norm_note = data_normalization(pre.cfg)
    export.notes.append(f'mean / std from {norm_note}')
    hw = _input_hw(export)
    write_timm_folder(out, model, converted, export, timm_pretrained_cfg(arch, hw, mean, std),
                      pre)
    if verify:
        export.max_abs_diff = compare_features(out, encoder, family, hw, strict=export.exact)
    check = (f'timm features equal the mmmim encoder\'s on random {hw[0]}x{hw[1]} images'
             if export.exact else 'timm features compared with the mmmim encoder\'s on '
             f'random {hw[0]}x{hw[1]} images (different by design, see the notes)')
    write_model_card(out, pre, export, check, timm_usage(out, export))
    return export


def _family_args(export: Export, encoder: nn.Module, pre: Pretraining) -> Dict:
    """Fill ``export.model_args``; the converter's keyword arguments."""
    if export.family == 'vit':
        export.model_args = vit_model_args(encoder)
        return {}
    img_size = pre.cfg.model.encoder.get('img_size', 224)
    export.model_args = swin_model_args(encoder, int(img_size))
    ours, theirs = swin_windows(encoder), timm_windows(export.model_args)
    if ours != theirs:
        export.notes.append(f'stage windows {ours} in pretraining (compact masking) but '
                            f'{theirs} in timm at {img_size} px: bias tables resized, '
                            'features are not identical by design')
        export.exact = False
    return dict(window_size=theirs)


def _build_timm(arch: str, model_args: Dict, family: str) -> nn.Module:
    """timm's ``arch`` with our dimensions; ExportError when ``arch`` is not a model
    of the checkpoint's family (it does not take the family's arguments)."""
    import timm
    try:
        return timm.create_model(arch, pretrained=False, num_classes=0, **model_args).eval()
    except TypeError as err:
        raise ExportError(f'--arch {arch} is not a {family} architecture of timm '
                          f'({err}); e.g. {DEFAULT_ARCH[family]}') from err


def _check_keys(model: nn.Module, converted: Dict, report: LoadReport, arch: str) -> None:
    """ExportError unless the converted tensors are exactly the timm model's (keys and
    shapes); the report is refined against the model (``loaded_into``)."""
    target = {k: v for k, v in model.state_dict().items()
              if not k.endswith('relative_position_index') and 'attn_mask' not in k}
    report.compare_with(converted, target, arch)
    if report.missing or report.unexpected or report.shape_mismatch:
        raise ExportError(f'the converted encoder does not fit timm {arch}:\n'
                          f'{report.summary()}')
    for key in [k for k in converted if k not in target]:
        converted.pop(key)


def _input_hw(export: Export) -> List[int]:
    size = export.model_args['img_size']
    return list(size) if isinstance(size, (list, tuple)) else [size, size]


def write_timm_folder(out: str, model: nn.Module, converted: Dict, export: Export,
                      pretrained_cfg: Dict, pre: Pretraining) -> None:
    """``model.safetensors`` (report in the metadata) and ``config.json``."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    meta = report_metadata(export.report, mmmim_converter=export.report.converter,
                           mmmim_config=pre.config_name, mmmim_epoch=pre.epoch)
    save_safetensors(converted, str(folder / WEIGHTS_FILE), meta)
    config = dict(architecture=export.arch, num_classes=0, num_features=model.num_features,
                  global_pool=getattr(model, 'global_pool', None) or None,
                  model_args=export.model_args, pretrained_cfg=pretrained_cfg)
    if not isinstance(config['global_pool'], str):
        config.pop('global_pool')
    (folder / 'config.json').write_text(json.dumps(config, indent=2) + '\n')


def encoder_features(encoder: nn.Module, family: str, images: torch.Tensor) -> torch.Tensor:
    """Our encoder's features in timm's ``forward_features`` layout: ViT tokens
    ``[N, 1 + L, C]``; Swin's last stage ``[N, h, w, C]``."""
    with torch.no_grad():
        out = encoder(images)
    return out[0] if family == 'vit' else out[-1].permute(0, 2, 3, 1)


def max_difference(ours: torch.Tensor, theirs: torch.Tensor) -> Tuple[float, bool]:
    """The largest absolute difference, and whether it is float32 rounding (at most
    1e-4 relative to the scale of ``ours``)."""
    diff = (ours - theirs).abs().max().item()
    return diff, diff <= 1e-4 * max(1., ours.abs().max().item())


def compare_features(out: str, encoder: nn.Module, family: str, hw, seed: int = 0,
                     batch: int = 2, strict: bool = True) -> float:
    """Build timm's model from the folder (offline, ``local-dir:``), run it and our
    encoder on the same random images; the largest absolute difference. With
    ``strict``, ExportError when they differ beyond float32 rounding (1e-4, relative
    to the features' scale)."""
    import timm
    model = timm.create_model(f'local-dir:{out}', pretrained=True).eval()
    images = torch.randn(batch, 3, *hw, generator=torch.Generator().manual_seed(seed))
    ours = encoder_features(encoder, family, images)
    with torch.no_grad():
        theirs = model.forward_features(images)
    diff, rounding = max_difference(ours, theirs)
    if strict and not rounding:
        raise ExportError(f'timm features differ from the encoder\'s by {diff:.3g}')
    return diff


def timm_usage(out: str, export: Export) -> List[str]:
    """The model card's usage lines for a timm folder."""
    args = ', '.join(f'{k}={v!r}' for k, v in export.model_args.items())
    return ['import timm',
            f"model = timm.create_model('local-dir:{out}', pretrained=True)",
            '# or, with the weights file alone:',
            f"model = timm.create_model('{export.arch}', pretrained=True, num_classes=0,",
            f"                          pretrained_cfg_overlay=dict(file='{out}/{WEIGHTS_FILE}'),",
            f'                          {args})',
            'features = model.forward_features(images)']


def write_model_card(out: str, pre: Pretraining, export: Export, check: str,
                     usage: List[str], library: str = 'timm',
                     pipeline: str = 'image-feature-extraction') -> None:
    """README.md: pretraining config, epochs, load report, the export ``check``
    (what was compared), ``usage`` (Python lines)."""
    if export.max_abs_diff is None:
        check = 'not run (--no-verify)'
    else:
        check += f' (max abs difference {export.max_abs_diff:.2e})'
    lines = [
        '---', f'library_name: {library}', f'pipeline_tag: {pipeline}',
        'tags:', f'- {library}', '- mmmim', '- masked-image-modeling', '---', '',
        f'# {pre.config_name} ({export.arch}, mmmim pretraining)', '',
        f'A {export.family.upper()} model pretrained with mmmim, exported for {library}.', '',
        '## Pretraining', '',
        f'- config: `{pre.config_name}` (from {pre.config_source})',
        f'- algorithm: {pre.cfg.model.get("type")} with {pre.cfg.model.encoder.get("type")} '
        f'encoder and {pre.cfg.model.get("decoder", {}).get("type")} decoder',
        f'- trained: {pre.progress()}',
        f'- checkpoint: `{osp.basename(pre.path)}`',
        *[f'- note: {n}' for n in export.notes], '',
        '## Load report', '', '```text', export.report.summary(), '```', '',
        '## Export check', '', check, '',
        '## Usage', '', '```python', *usage, '```', '',
        '<details><summary>Full pretraining config</summary>', '', '```python',
        pre.cfg.pretty_text.rstrip(), '```', '', '</details>', '']
    (Path(out) / 'README.md').write_text('\n'.join(lines))
