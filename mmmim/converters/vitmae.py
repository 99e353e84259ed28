"""mmmim MAE (``MaskedViT`` + ``MAEDecoder``) -> Hugging Face transformers
``ViTMAEForPreTraining`` (encoder and decoder), so the pretraining can go on there.

Key mapping (transformers 5 names; mm keys as in :mod:`mmmim.converters.vit`)::

    encoder.cls_token / pos_embed          -> vit.embeddings.cls_token / position_embeddings
    encoder.patch_embed.projection.*       -> vit.embeddings.patch_embeddings.projection.*
    encoder.layers.i.ln1 / ln2             -> vit.layers.i.layernorm_before / _after
    encoder.layers.i.attn.qkv (3C rows)    -> vit.layers.i.attention.{q,k,v}_proj
    encoder.layers.i.attn.proj             -> vit.layers.i.attention.o_proj
    encoder.layers.i.ffn.layers.0.0 / .1   -> vit.layers.i.mlp.fc1 / fc2
    encoder.ln1                            -> vit.layernorm
    decoder.embed / mask_token / norm / predictor
        -> decoder.decoder_embed / mask_token / decoder_norm / decoder_pred
    decoder.blocks.i.*                     -> decoder.decoder_layers.i.* (as the encoder's)
    (our fixed sin-cos decoder positions)  -> decoder.decoder_pos_embed (zero class row)

What differs, and how the export deals with it:

- masking: transformers draws the mask itself from ``noise`` (``argsort``: the
  ``int(L * (1 - mask_ratio))`` smallest are kept). :func:`noise_for_mask` gives the
  noise that keeps exactly our visible units, so both models see the same mask;
  ``mask_ratio`` is set so that transformers keeps as many units as our masker
  (``round(ratio * L)`` masked).
- the class token's position: both add ``pos_embed[:, :1]`` to it; our decoder adds
  no position to it, transformers adds the zero row of ``decoder_pos_embed``.
- the loss: ``norm_pix_loss`` is our target's ``normalize`` (same unbiased variance
  and eps 1e-6); a target with filters (PixMIM's low-pass) is not expressible, and
  the export stops naming it.
"""
from pathlib import Path
from typing import Dict, List, Tuple

import torch
from torch import nn

from mmmim.models.pos_embed import sincos_pos_embed

from .common import PRETRAIN_ONLY, StateDict, unwrap
from .export import (
    Export,
    ExportError,
    Pretraining,
    build_module,
    data_normalization,
    max_difference,
    read_pretraining,
    write_model_card,
)
from .report import LoadReport

BLOCK_RULES = (('ln1.', 'layernorm_before.'), ('ln2.', 'layernorm_after.'),
               ('attn.proj.', 'attention.o_proj.'), ('ffn.layers.0.0.', 'mlp.fc1.'),
               ('ffn.layers.1.', 'mlp.fc2.'))
TOP_RULES = {'encoder.cls_token': 'vit.embeddings.cls_token',
             'encoder.pos_embed': 'vit.embeddings.position_embeddings',
             'encoder.patch_embed.projection.': 'vit.embeddings.patch_embeddings.projection.',
             'encoder.ln1.': 'vit.layernorm.',
             'decoder.embed.': 'decoder.decoder_embed.',
             'decoder.mask_token': 'decoder.mask_token',
             'decoder.norm.': 'decoder.decoder_norm.',
             'decoder.predictor.': 'decoder.decoder_pred.'}
BLOCK_PREFIXES = (('encoder.layers.', 'vit.layers.'),
                  ('decoder.blocks.', 'decoder.decoder_layers.'))


def mae_problems(model: nn.Module) -> List[str]:
    """Why ``model`` (a built MaskedImageModel) has no exact ViTMAE counterpart;
    empty when it has one."""
    enc, dec = model.encoder, model.decoder
    names = {type(enc).__name__, type(dec).__name__}
    if names != {'MaskedViT', 'MAEDecoder'}:
        return [f'ViTMAE is a ViT encoder with an MAE decoder, not {sorted(names)}']
    problems = []
    if enc.cls_token is None or not enc.final_norm or not isinstance(enc.pre_norm, nn.Identity):
        problems.append('the encoder needs a class token, final_norm=True and no pre_norm')
    if not isinstance(dec.embed, nn.Linear):
        problems.append('the decoder needs its own embedding Linear (embed=True)')
    units = {enc.patch_size, getattr(model.masker, 'unit_size', None),
             getattr(model.target, 'patch_size', None)}
    if len(units) != 1 or dec.predictor.out_features != 3 * enc.patch_size**2:
        problems.append(f'patch, mask unit, target unit and predicted pixels must be one '
                        f'{enc.patch_size}-px patch of 3 channels (got {sorted(map(str, units))})')
    if len(getattr(model.target, 'filters', ())):
        problems.append('the target filters the image (e.g. PixMIM\'s low-pass): '
                        'transformers\' loss reads raw pixels')
    if enc.patch_resolution[0] != enc.patch_resolution[1]:
        problems.append('transformers\' ViTMAE needs a square input')
    if len(_layer_norm_eps(model)) != 1:
        problems.append(f'LayerNorm eps differ across the model: {_layer_norm_eps(model)}')
    return problems


def _layer_norm_eps(model: nn.Module) -> List[float]:
    return sorted({m.eps for m in model.modules() if isinstance(m, nn.LayerNorm)})


def vitmae_config(model: nn.Module) -> Dict:
    """``ViTMAEConfig`` arguments of a MaskedImageModel that passes :func:`mae_problems`."""
    enc, dec = model.encoder, model.decoder
    grid = enc.patch_resolution
    return dict(hidden_size=enc.embed_dims, num_hidden_layers=enc.num_layers,
                num_attention_heads=enc.layers[0].attn.num_heads,
                intermediate_size=enc.layers[0].ffn.feedforward_channels, hidden_act='gelu',
                layer_norm_eps=_layer_norm_eps(model)[0], image_size=grid[0] * enc.patch_size,
                patch_size=enc.patch_size, num_channels=3,
                qkv_bias=enc.layers[0].attn.qkv.bias is not None,
                decoder_hidden_size=dec.mask_token.shape[-1],
                decoder_num_hidden_layers=len(dec.blocks),
                decoder_num_attention_heads=dec.blocks[0].attn.num_heads,
                decoder_intermediate_size=dec.blocks[0].ffn.feedforward_channels,
                mask_ratio=vitmae_mask_ratio(model.masker.ratio, grid[0] * grid[1]),
                norm_pix_loss=bool(getattr(model.target, 'normalize', False)))


def vitmae_mask_ratio(ratio: float, num_units: int) -> float:
    """A ``mask_ratio`` with which transformers keeps ``int(L * (1 - r))`` units, as
    many as our masker leaves visible (``L - round(ratio * L)``): ``ratio`` itself
    unless float rounding moves the count, then the middle of the right interval."""
    visible = num_units - round(ratio * num_units)
    if int(num_units * (1 - ratio)) == visible:
        return ratio
    return 1 - (visible + 0.5) / num_units


def noise_for_mask(mask: torch.Tensor) -> torch.Tensor:
    """``noise`` ``[B, L]`` for ``ViTMAEForPreTraining`` that keeps exactly the units
    where ``mask`` (bool ``[B, L]``, True = masked) is False: visible units sort first
    (0 <= noise < 0.5), masked ones after (>= 1), each group in unit order."""
    num_units = mask.shape[1]
    order = torch.arange(num_units, dtype=torch.float32, device=mask.device) / (2 * num_units)
    return mask.float() + order


def map_key(key: str) -> List[str]:
    """transformers key(s) for one mm key (three for a ``qkv`` tensor); [] when the
    key has no counterpart."""
    for src, dst in BLOCK_PREFIXES:
        if key.startswith(src):
            index, rest = key[len(src):].split('.', 1)
            if rest.startswith('attn.qkv.'):
                param = rest.rsplit('.', 1)[1]
                return [f'{dst}{index}.attention.{p}_proj.{param}' for p in 'qkv']
            for old, new in BLOCK_RULES:
                if rest.startswith(old):
                    return [f'{dst}{index}.{new}{rest[len(old):]}']
            return []
    for old, new in TOP_RULES.items():
        if key == old or (old.endswith('.') and key.startswith(old)):
            return [new + key[len(old):]]
    return []


def to_vitmae(state: StateDict, model: nn.Module) -> Tuple[StateDict, LoadReport]:
    """Our full pretraining state dict -> transformers tensors and the report (every
    other tensor is dropped on purpose or unexpected)."""
    report = LoadReport('mae->transformers', source='mmmim MAE pretraining checkpoint')
    out = {}
    for key, value in state.items():
        names = map_key(key)
        if len(names) == 3:
            out.update(zip(names, value.chunk(3, dim=0)))  # q, k, v rows of qkv
        elif names:
            out[names[0]] = value
        elif key.split('.')[-1] in PRETRAIN_ONLY:
            report.dropped_on_purpose[key] = PRETRAIN_ONLY[key.split('.')[-1]]
        else:
            report.unexpected.append(key)
    grid, dims = model.encoder.patch_resolution, model.decoder.mask_token.shape[-1]
    out['decoder.decoder_pos_embed'] = torch.cat(
        [torch.zeros(1, 1, dims), sincos_pos_embed(tuple(grid), dims)], dim=1)
    report.notes.append('decoder.decoder_pos_embed: our fixed sin-cos positions '
                        '(zero row for the class token)')
    return out, report


def build_vitmae(config: Dict, converted: StateDict, report: LoadReport) -> nn.Module:
    """``ViTMAEForPreTraining(config)`` with ``converted`` loaded; ConversionError
    (via the report) unless every tensor matched by key and shape."""
    from transformers import ViTMAEConfig, ViTMAEForPreTraining
    hf = ViTMAEForPreTraining(ViTMAEConfig(**config)).eval()
    report.compare_with(converted, hf.state_dict(), 'ViTMAEForPreTraining')
    report.check()
    hf.load_state_dict(converted, strict=True)
    return hf


def compare_reconstructions(out: str, model: nn.Module, seed: int = 0,
                            batch: int = 2) -> float:
    """Reload the folder with ``from_pretrained``; on random images and one mask
    drawn by our masker, the largest difference between its reconstructions
    (``logits``) and ours; ExportError beyond float32 rounding, or when the mask or
    the loss differ."""
    from transformers import ViTMAEForPreTraining
    hf = ViTMAEForPreTraining.from_pretrained(out).eval()
    size = hf.config.image_size
    gen = torch.Generator().manual_seed(seed)
    images = torch.randn(batch, 3, size, size, generator=gen)
    with torch.no_grad():
        torch.manual_seed(seed)
        masks = model.masker(images)
        ours = model.decoder(model.encoder(images, masks), masks)
        our_loss = model.reconstruction_loss(ours, model.target(images), masks, images)
        theirs = hf(pixel_values=images, noise=noise_for_mask(masks.mask))
    if not torch.equal(theirs.mask.bool(), masks.mask):
        raise ExportError('transformers masked other units than the noise asked for')
    diff, rounding = max_difference(ours, theirs.logits)
    if not rounding:
        raise ExportError(f'transformers\' reconstructions differ from ours by {diff:.3g}')
    if not torch.allclose(our_loss, theirs.loss, rtol=1e-4, atol=1e-6):
        raise ExportError(f'losses differ: ours {our_loss.item():.6g}, '
                          f'transformers {theirs.loss.item():.6g}')
    return diff


def require_transformers() -> None:
    """ExportError saying how to install transformers when it is missing."""
    try:
        import transformers  # noqa: F401
    except ImportError as err:
        raise ExportError('the transformers export needs transformers>=5 '
                          f'(pip install "transformers>=5,<6"): {err}') from err


def write_preprocessor_config(out: str, size: int, mean, std) -> None:
    """``preprocessor_config.json`` for transformers' ``ViTImageProcessor``."""
    import json
    cfg = dict(image_processor_type='ViTImageProcessor', do_resize=True,
               size=dict(height=size, width=size), resample=3, do_rescale=True,
               rescale_factor=1 / 255, do_normalize=True, image_mean=list(mean),
               image_std=list(std))
    (Path(out) / 'preprocessor_config.json').write_text(json.dumps(cfg, indent=2) + '\n')


def export_vitmae(ckpt: str, out: str, config: str = None, verify: bool = True) -> Export:
    """Write a ``ViTMAEForPreTraining`` folder (``save_pretrained``: config.json and
    model.safetensors; preprocessor_config.json; README.md) for an MAE checkpoint;
    with ``verify`` compare reconstructions (:func:`compare_reconstructions`)."""
    require_transformers()
    pre: Pretraining = read_pretraining(ckpt, config)
    state, _ = unwrap(pre.checkpoint)
    model = build_module(pre.cfg.model, state, ckpt)
    problems = mae_problems(model)
    if problems:
        raise ExportError('no exact ViTMAE counterpart: ' + '; '.join(problems))
    hf_config = vitmae_config(model)
    converted, report = to_vitmae(state, model)
    report.source += f' from {ckpt}'
    hf = build_vitmae(hf_config, converted, report)
    Path(out).mkdir(parents=True, exist_ok=True)
    hf.save_pretrained(out)
    mean, std, note = data_normalization(pre.cfg)
    write_preprocessor_config(out, hf_config['image_size'], mean, std)
    export = Export(out, 'ViTMAEForPreTraining', 'vit', hf_config, report,
                    notes=[f'mean / std from {note}'])
    if type(model.masker).__name__ != 'RandomMasker':
        export.notes.append(f'pretrained with {type(model.masker).__name__}: transformers '
                            'draws uniform random masks')
    if verify:
        export.max_abs_diff = compare_reconstructions(out, model)
    write_model_card(out, pre, export, 'transformers\' reconstructions and loss equal '
                     'ours on random images with our mask (passed as `noise`)',
                     ['from transformers import ViTMAEForPreTraining',
                      f"model = ViTMAEForPreTraining.from_pretrained('{out}')",
                      'out = model(pixel_values=images)  # out.loss, out.logits, out.mask'],
                     library='transformers', pipeline='image-feature-extraction')
    return export
