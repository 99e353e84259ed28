"""Importing released pretraining checkpoints (encoder and decoder) into mmmim models.

Source state dicts carry the official key names (read from the official code, see
the layouts in mmmim/converters/import_vit.py and import_swin.py) with the tiny
models' shapes and random values; references are the original modules (timm Blocks
as in MAE's models_mae.py, mmpretrain's MAEViT / MAEPretrainDecoder) or the official
computations written out (patch merging orders, 1x1 conv + PixelShuffle)."""
import re
from functools import partial

import pytest
import torch
from mmengine.registry import init_default_scope
from photos import photo_tensor
from test_converters.helpers import tiny_pretrained_model
from test_models.tiny import TINY_VIT, tiny_mae_cfg
from torch import nn

import mmmim.converters  # noqa: F401  (registers the importers)
import mmmim.models  # noqa: F401
from mmmim.converters import (
    ConversionError,
    convert_checkpoint,
    detect_source,
    import_checkpoint,
)
from mmmim.models import MaskSet
from mmmim.models.pos_embed import sincos_pos_embed
from mmmim.models.structures import EncoderOutput
from mmmim.models.utils import unpatchify
from mmmim.registry import MODELS

init_default_scope('mmmim')
IMAGE, GRID = 64, (4, 4)
TINY_SWIN = dict(embed_dims=16, depths=[2, 1, 1, 1], num_heads=[1, 2, 2, 4])


def built(cfg: dict, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    model = MODELS.build(cfg)
    model.init_weights()
    return model.eval()


def random_like(state: dict, rename, seed: int = 1, skip=()) -> dict:
    """Random tensors under the official names ``rename(our_key)`` (None: no
    official counterpart), with our shapes."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for key, value in state.items():
        name = rename(key)
        if name is not None and not re.search('|'.join(skip) or '^$', key):
            out[name] = torch.randn(value.shape, generator=g) * 0.1 + (
                1.0 if key.endswith('norm.weight') or '.ln' in key else 0.0)
    return out


def timm_block_names(key: str) -> str:
    """Block parameter names, mmpretrain -> timm (keys of blocks only)."""
    if not re.search(r'(layers|blocks)\.\d+\.', key):
        return key
    return (key.replace('.ln1.', '.norm1.').replace('.ln2.', '.norm2.')
            .replace('.ffn.layers.0.0.', '.mlp.fc1.').replace('.ffn.layers.1.', '.mlp.fc2.'))


def mae_official_name(key: str) -> str:
    """Our MAE key -> facebookresearch/mae ``MaskedAutoencoderViT`` key."""
    fixed = {'encoder.cls_token': 'cls_token', 'encoder.pos_embed': 'pos_embed',
             'decoder.mask_token': 'mask_token'}
    if key in fixed:
        return fixed[key]
    key = timm_block_names(key)
    for ours, theirs in (('encoder.patch_embed.projection.', 'patch_embed.proj.'),
                         ('encoder.layers.', 'blocks.'), ('encoder.ln1.', 'norm.'),
                         ('decoder.blocks.', 'decoder_blocks.'),
                         ('decoder.embed.', 'decoder_embed.'),
                         ('decoder.norm.', 'decoder_norm.'),
                         ('decoder.predictor.', 'decoder_pred.')):
        if key.startswith(ours):
            return theirs + key[len(ours):]
    raise AssertionError(key)


@pytest.fixture(scope='module')
def mae_model():
    return built(tiny_mae_cfg(IMAGE))


@pytest.fixture(scope='module')
def official_mae(mae_model):
    state = random_like(mae_model.state_dict(), mae_official_name)
    state['decoder_pos_embed'] = torch.cat([torch.zeros(1, 1, 32), sincos_pos_embed(GRID, 32)], 1)
    return {'model': state}


def fixed_masks(batch: int) -> MaskSet:
    mask = torch.ones(batch, 16, dtype=torch.bool)
    for b in range(batch):
        mask[b, [(b + 5 * i) % 16 for i in range(4)]] = False   # 4 visible per sample
    return MaskSet(mask=mask, grid=GRID, unit_size=16, num_masked=12)


def official_mae_forward(official: dict, images: torch.Tensor, masks: MaskSet):
    """MAE's forward_encoder / forward_decoder on timm modules holding ``official``
    (strict loads: the names and shapes are timm's, i.e. MAE's). -> (latent, pred)."""
    from timm.models.vision_transformer import Block, VisionTransformer
    enc_keys = {k: v for k, v in official.items() if not re.match(r'decoder_|mask_token', k)}
    vit = VisionTransformer(img_size=IMAGE, patch_size=16, embed_dim=32, depth=2, num_heads=2,
                            mlp_ratio=2, num_classes=0).eval()
    vit.load_state_dict(enc_keys)
    block = partial(Block, 32, 2, 4, qkv_bias=True, norm_layer=partial(nn.LayerNorm, eps=1e-6))
    blocks = nn.Sequential(block()).eval()
    blocks.load_state_dict({k[len('decoder_blocks.'):]: v for k, v in official.items()
                            if k.startswith('decoder_blocks.')})
    keep, b = ~masks.mask, images.shape[0]
    with torch.no_grad():
        tokens = vit.patch_embed(images) + official['pos_embed'][:, 1:]
        visible = tokens[keep].view(b, -1, 32)
        cls = (official['cls_token'] + official['pos_embed'][:, :1]).expand(b, -1, -1)
        latent = vit.norm(vit.blocks(torch.cat([cls, visible], 1)))
        x = nn.functional.linear(latent, official['decoder_embed.weight'],
                                 official['decoder_embed.bias'])
        full = official['mask_token'].expand(b, 16, -1).clone()
        full[keep] = x[:, 1:].reshape(-1, 32)
        x = blocks(torch.cat([x[:, :1], full], 1) + official['decoder_pos_embed'])
        x = nn.functional.layer_norm(x, (32,), official['decoder_norm.weight'],
                                     official['decoder_norm.bias'], eps=1e-6)
        pred = nn.functional.linear(x, official['decoder_pred.weight'],
                                    official['decoder_pred.bias'])
    return latent, pred[:, 1:]


def test_mae_official__every_tensor_lands_renamed_with_equal_values(mae_model, official_mae):
    assert detect_source(official_mae) == 'mae-official'
    state, report = import_checkpoint(official_mae, mae_model)
    source = official_mae['model']
    for key, value in state.items():
        torch.testing.assert_close(value, source[mae_official_name(key)], atol=0, rtol=0)
    assert set(state) == set(mae_model.state_dict())
    assert len(report.matched) == len(source) - 1
    assert list(report.dropped_on_purpose) == ['decoder_pos_embed']
    assert 'same table' in report.dropped_on_purpose['decoder_pos_embed']
    assert 'encoder: 30/30 tensors' in report.notes and 'decoder: 19/19 tensors' in report.notes


def test_mae_official__imported_model_computes_the_official_forward(mae_model, official_mae):
    state, _ = import_checkpoint(official_mae, mae_model)
    model = built(tiny_mae_cfg(IMAGE), seed=5)
    model.load_state_dict(state, strict=True)
    images, masks = photo_tensor(IMAGE), fixed_masks(4)
    latent_ref, pred_ref = official_mae_forward(official_mae['model'], images, masks)
    with torch.no_grad():
        latent = model.encoder(images, masks)
        pred = model.decoder(latent, masks)
    torch.testing.assert_close(latent.tokens, latent_ref, atol=1e-5, rtol=0)
    torch.testing.assert_close(pred, pred_ref, atol=1e-5, rtol=0)


def test_mae_official__other_image_size_resizes_the_encoder_positions(official_mae):
    """A 96-px config (6x6 patches): pos_embed resized bicubically, class token kept;
    the decoder's positions are regenerated for the new grid."""
    model = built(tiny_mae_cfg(96))
    state, report = import_checkpoint(official_mae, model)
    assert state['encoder.pos_embed'].shape == (1, 1 + 36, 32)
    torch.testing.assert_close(state['encoder.pos_embed'][:, :1],
                               official_mae['model']['pos_embed'][:, :1], atol=0, rtol=0)
    assert any(n.startswith('encoder.pos_embed resized') for n in report.notes)


def test_ummae_vit_official__vis_mask_token_is_our_secondary_token(official_mae):
    """UM-MAE's ViT is MAE's layout plus ``vis_mask_token``: it lands on a UM-MAE
    config's secondary token; a plain MAE config has none and the import fails."""
    token = torch.randn(1, 1, 32)
    ckpt = {'model': dict(official_mae['model'], vis_mask_token=token)}
    cfg = tiny_mae_cfg(IMAGE)
    cfg['encoder']['secondary_token'] = True
    state, _ = import_checkpoint(ckpt, built(cfg))
    torch.testing.assert_close(state['encoder.secondary_token'], token, atol=0, rtol=0)
    with pytest.raises(ConversionError, match='UNEXPECTED.*encoder.secondary_token'):
        import_checkpoint(ckpt, built(tiny_mae_cfg(IMAGE)))


def test_mae_official__missing_encoder_block_tensor_fails_naming_the_encoder(
        mae_model, official_mae):
    state = dict(official_mae['model'])
    del state['blocks.1.attn.proj.weight']
    with pytest.raises(ConversionError, match='the encoder did not load') as err:
        import_checkpoint({'model': state}, mae_model)
    assert 'encoder.layers.1.attn.proj.weight' in str(err.value)


def test_mae_official__encoder_only_checkpoint_fails_naming_the_decoder(mae_model, official_mae):
    state = {k: v for k, v in official_mae['model'].items()
             if not k.startswith('decoder') and k != 'mask_token'}
    with pytest.raises(ConversionError, match='the decoder did not load'):
        import_checkpoint({'model': state}, mae_model, source='mae-official')


def test_mae_official__unknown_key_fails_as_unexpected(mae_model, official_mae):
    state = dict(official_mae['model'], **{'extra_head.weight': torch.zeros(2)})
    with pytest.raises(ConversionError, match='UNEXPECTED.*extra_head.weight'):
        import_checkpoint({'model': state}, mae_model)


def mmpretrain_mae(seed: int = 2):
    """mmpretrain's MAEViT + MAEPretrainDecoder with the tiny dims, perturbed (the
    fixed decoder position table kept)."""
    from mmpretrain.models.necks import MAEPretrainDecoder
    from mmpretrain.models.selfsup.mae import MAEViT
    torch.manual_seed(seed)
    vit = MAEViT(arch=TINY_VIT, img_size=IMAGE, patch_size=16)
    neck = MAEPretrainDecoder(num_patches=16, patch_size=16, embed_dim=32,
                              decoder_embed_dim=32, decoder_depth=1, decoder_num_heads=2)
    for module in (vit, neck):
        module.init_weights()
        module.eval()  # mmpretrain's train() returns None: no chaining
    with torch.no_grad():
        for module in (vit, neck):
            for name, p in module.named_parameters():
                if name != 'decoder_pos_embed':
                    p.add_(0.05 * torch.randn_like(p))
    return vit, neck


def mmpretrain_state(vit, neck) -> dict:
    return {'state_dict': {**{f'backbone.{k}': v for k, v in vit.state_dict().items()},
                           **{f'neck.{k}': v for k, v in neck.state_dict().items()}},
            'meta': {'epoch': 1}}


def test_mae_mmpretrain__decoder_with_swapped_sincos_halves_computes_the_same(mae_model):
    """mmpretrain's decoder table is ours with its halves swapped: the importer
    permutes the decoder's channels, so the predictions equal mmpretrain's neck."""
    vit, neck = mmpretrain_mae()
    ckpt = mmpretrain_state(vit, neck)
    assert detect_source(ckpt) == 'mae-mmpretrain'
    state, report = import_checkpoint(ckpt, mae_model)
    assert any('permuted' in n for n in report.notes)
    model = built(tiny_mae_cfg(IMAGE), seed=5)
    model.load_state_dict(state, strict=True)
    images, masks = photo_tensor(IMAGE), fixed_masks(4)
    ids_restore = torch.argsort(torch.argsort(masks.mask.int(), dim=1, stable=True), dim=1)
    with torch.no_grad():
        latent = model.encoder(images, masks)
        ours = model.decoder(latent, masks)
        reference = neck(latent.tokens, ids_restore)
        features = vit(images, mask=None)[0]
    torch.testing.assert_close(ours, reference, atol=1e-5, rtol=0)
    torch.testing.assert_close(model.encoder(images)[0], features, atol=1e-5, rtol=0)


def test_mae_mmpretrain__round_trip_from_mmmim_keeps_our_encoder(mae_model):
    """mmmim -> mmpretrain (vit->mmpretrain into MAEViT) -> mmmim: encoder unchanged."""
    ours = tiny_pretrained_model(seed=3)
    backbone, _ = convert_checkpoint({'state_dict': ours.state_dict()}, 'vit', 'mmpretrain')
    vit, neck = mmpretrain_mae()
    vit.load_state_dict(backbone, strict=True)
    state, _ = import_checkpoint(mmpretrain_state(vit, neck), mae_model)
    for key, value in ours.encoder.state_dict().items():
        if key != 'secondary_token':
            torch.testing.assert_close(state[f'encoder.{key}'], value, atol=0, rtol=0)


# ---------------------------------------------------------------- Swin / SimMIM
def simmim_cfg() -> dict:
    return dict(type='MaskedImageModel', masker=dict(type='BlockMasker', ratio=0.6, unit_size=32),
                encoder=dict(type='MaskedSwin', arch=TINY_SWIN, img_size=128, window_size=4,
                             masking='mask_token'),
                decoder=dict(type='SimMIMDecoder'),
                target=dict(type='PixelTarget', patch_size=32, normalize=False))


def swin_official_name(key: str, prefix: str = 'encoder.') -> str:
    """Our MaskedSwin key (after ``encoder.``) -> the official Swin's."""
    key = key.replace('patch_embed.projection.', 'patch_embed.proj.')
    key = re.sub(r'^stages\.', 'layers.', key).replace('.attn.w_msa.', '.attn.')
    key = timm_block_names(key.replace('.norm1.', '.ln1.').replace('.norm2.', '.ln2.'))
    return prefix + key


def simmim_official_name(key: str):
    if key.startswith('decoder.predictor.'):
        return key.replace('decoder.predictor.', 'decoder.0.')
    if key.startswith('encoder.norm3.'):
        return key.replace('encoder.norm3.', 'encoder.norm.')
    return swin_official_name(key[len('encoder.'):])


def official_simmim(model) -> dict:
    state = random_like(model.state_dict(), simmim_official_name)
    state['decoder.0.weight'] = state['decoder.0.weight'][..., None, None]   # 1x1 conv
    for key in [k for k in state if k.endswith('relative_position_index')]:
        state[key] = torch.zeros(state[key].shape, dtype=torch.long)
    state['encoder.layers.0.blocks.1.attn_mask'] = torch.zeros(4, 16, 16)
    return {'model': state}


def official_merge(x: torch.Tensor, order: str) -> torch.Tensor:
    """[B, H, W, C] -> [B, H/2 * W/2, 4C] as the official Swin ('colmajor': x0 =
    (0,0), x1 = (1,0), x2 = (0,1), x3 = (1,1)) or GreenMIM ('rowmajor') concatenate."""
    offsets = [(0, 0), (1, 0), (0, 1), (1, 1)] if order == 'colmajor' else \
        [(0, 0), (0, 1), (1, 0), (1, 1)]
    parts = [x[:, dy::2, dx::2] for dy, dx in offsets]
    return torch.cat(parts, -1).flatten(1, 2)


def check_merging(model, source: dict, order: str, stage: int = 0) -> None:
    """Our stage's patch merging with the imported weights = norm + reduction of
    the source on the official concatenation."""
    merging = model.encoder.stages[stage].downsample
    c = merging.norm.normalized_shape[0] // 4
    x = torch.randn(2, 8, 8, c)
    pre = f'encoder.layers.{stage}.downsample.'
    with torch.no_grad():
        ours, _ = merging(x.flatten(1, 2), (8, 8))
        cat = official_merge(x, order)
        ref = nn.functional.layer_norm(cat, (4 * c,), source[pre + 'norm.weight'],
                                       source[pre + 'norm.bias'], eps=1e-5)
        ref = ref @ source[pre + 'reduction.weight'].T
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=0)


def test_simmim_official__merging_and_pixel_shuffle_decoder_compute_the_official_ones():
    model = built(simmim_cfg())
    ckpt = official_simmim(model)
    assert detect_source(ckpt) == 'simmim-swin-official'
    state, report = import_checkpoint(ckpt, model)
    model.load_state_dict(state, strict=True)
    source = ckpt['model']
    for stage in range(3):
        check_merging(model, source, 'colmajor', stage)
    tokens = torch.randn(2, 16, 128)                                     # 4x4 tokens
    masks = MaskSet(torch.zeros(2, 16, dtype=torch.bool), GRID, 32)
    with torch.no_grad():
        pred = model.decoder(EncoderOutput(tokens, (4, 4)), masks)
        image = unpatchify(pred, 32, GRID)                               # [2, 3, 128, 128]
        fmap = tokens.transpose(1, 2).reshape(2, 128, 4, 4)
        ref = nn.functional.pixel_shuffle(nn.functional.conv2d(
            fmap, source['decoder.0.weight'], source['decoder.0.bias']), 32)
    torch.testing.assert_close(image, ref, atol=1e-5, rtol=0)
    assert 'encoder.layers.0.blocks.1.attn_mask' in report.dropped_on_purpose
    torch.testing.assert_close(state['encoder.norm3.weight'], source['encoder.norm.weight'])
    torch.testing.assert_close(state['encoder.mask_token'], source['encoder.mask_token'])


def test_simmim_official__encoder_equals_mmdets_official_swin_converter():
    """mmdet's ``swin_converter`` (official Swin -> mm keys, its own unfold-order
    correction) gives the same encoder tensors as the import."""
    from mmdet.models.backbones.swin import swin_converter
    model = built(simmim_cfg())
    ckpt = official_simmim(model)
    state, _ = import_checkpoint(ckpt, model)
    official = {k[len('encoder.'):]: v for k, v in ckpt['model'].items()
                if k.startswith('encoder.layers.') or k.startswith('encoder.patch_embed.')}
    reference = swin_converter(official)
    compared = 0
    for key, value in reference.items():
        ours = 'encoder.' + key[len('backbone.'):]
        if not key.endswith(('relative_position_index', 'attn_mask')):
            torch.testing.assert_close(state[ours], value, atol=0, rtol=0)
            compared += 1
    assert compared == sum(k.startswith('encoder.') and not k.endswith(
        ('relative_position_index', 'mask_token', 'norm3.weight', 'norm3.bias')) for k in state)


def test_simmim_official__renamed_tensors_equal_the_source():
    model = built(simmim_cfg())
    ckpt = official_simmim(model)
    state, report = import_checkpoint(ckpt, model)
    source = ckpt['model']
    plain = [k for k in state if 'downsample' not in k and 'predictor' not in k
             and not k.endswith('relative_position_index')]
    for key in plain:
        torch.testing.assert_close(state[key], source[simmim_official_name(key)], atol=0, rtol=0)
    assert len(plain) + 3 * 3 + 2 == len(report.matched)


def test_simmim_mmpretrain__imported_model_computes_mmpretrains_simmim():
    """mmpretrain's SimMIMSwinTransformer + SimMIMLinearDecoder (perturbed) and the
    imported model give the same reconstructions of masked images."""
    from mmpretrain.models.necks import SimMIMLinearDecoder
    from mmpretrain.models.selfsup.simmim import SimMIMSwinTransformer
    torch.manual_seed(4)
    swin = SimMIMSwinTransformer(arch=TINY_SWIN, img_size=128, out_indices=(3,),
                                 stage_cfgs=dict(window_size=4))
    neck = SimMIMLinearDecoder(in_channels=128, encoder_stride=32)
    with torch.no_grad():
        for module in (swin, neck):
            for p in module.parameters():
                p.add_(0.05 * torch.randn_like(p))
            module.eval()
    ckpt = {'state_dict': {**{f'backbone.{k}': v for k, v in swin.state_dict().items()},
                           **{f'neck.{k}': v for k, v in neck.state_dict().items()}}}
    model = built(simmim_cfg())
    state, _ = import_checkpoint(ckpt, model)
    model.load_state_dict(state, strict=True)
    images = photo_tensor(128)
    mask = torch.zeros(4, 16, dtype=torch.bool)
    mask[:, [1, 2, 6, 9, 11, 12, 13, 15]] = True                 # 8 of 16 32-px units
    masks = MaskSet(mask, GRID, 32)
    token_mask = mask.view(4, 4, 1, 4, 1).expand(-1, -1, 8, -1, 8).reshape(4, 32, 32)
    with torch.no_grad():
        reference = neck(swin(images, token_mask)[0])                # [4, 3, 128, 128]
        pred = model.decoder(model.encoder(images, masks), masks)
    torch.testing.assert_close(unpatchify(pred, 32, GRID), reference, atol=1e-4, rtol=0)


def test_simmim_mmpretrain__backbone_and_neck_land_on_encoder_and_decoder():
    model = built(simmim_cfg())
    ours = model.state_dict()
    source = {f'backbone.{k[len("encoder."):]}': v.clone() + 0.5 for k, v in ours.items()
              if k.startswith('encoder.')}
    source['neck.decoder.0.weight'] = torch.randn(3 * 32 * 32, 128, 1, 1)
    source['neck.decoder.0.bias'] = torch.randn(3 * 32 * 32)
    ckpt = {'state_dict': source}
    assert detect_source(ckpt) == 'simmim-mmpretrain'
    state, _ = import_checkpoint(ckpt, model)
    for key in ours:
        if key.startswith('encoder.') and not key.endswith('relative_position_index'):
            torch.testing.assert_close(state[key], source[f'backbone.{key[8:]}'], atol=0, rtol=0)
    # pixel (i, j), channel c of the token <- conv channel c*32*32 + i*32 + j
    weight = state['decoder.predictor.weight']
    i, j, c = 3, 17, 2
    torch.testing.assert_close(weight[(i * 32 + j) * 3 + c],
                               source['neck.decoder.0.weight'][c * 1024 + i * 32 + j, :, 0, 0])


# ---------------------------------------------------------------- LocalMIM
def localmim_vit_cfg() -> dict:
    arch = dict(TINY_VIT, num_layers=8)
    levels = [dict(tap=t, decoder=dict(type='LocalMIMDecoder', dims=32, num_heads=2, scale=s))
              for t, s in (('block1', 4), ('block3', 2), ('block5', 1), ('out', 0.5))]
    return dict(type='MultiLevelMaskedImageModel',
                masker=dict(type='RandomMasker', ratio=0.75, unit_size=16),
                encoder=dict(type='MaskedViT', arch=arch, img_size=IMAGE, patch_size=16),
                levels=levels, target=dict(type='HOGTarget', nbins=9, cell_sizes=(4, 8, 16, 32)))


def localmim_vit_name(key: str) -> str:
    """Our LocalMIM ViT key -> the official LocalMIM ViT key."""
    found = re.match(r'decoders\.(\d)\.(in_norm|mae|head)\.(.+)$', key)
    if found:
        k, part, rest = found.groups()
        if part == 'in_norm':
            return f'norm.{k}.{rest}'
        if part == 'head':
            return f'decoder.{k}.pred.{rest}'
        return timm_block_names(f'decoder.{k}.{rest}')
    if key.startswith('encoder.ln1.'):
        return 'norm.3.' + key[len('encoder.ln1.'):]
    return mae_official_name(key)


def test_localmim_vit_official__level_norms_decoders_and_heads_land_where_they_should():
    model = built(localmim_vit_cfg())
    source = random_like(model.state_dict(), localmim_vit_name)
    for k in range(4):
        source[f'decoder.{k}.pos_embed'] = torch.cat([torch.zeros(1, 1, 32),
                                                      sincos_pos_embed(GRID, 32)], 1)
        source[f'hog_enc.{k}.conv.weight'] = torch.zeros(2, 1, 3, 3)
    ckpt = {'model': source}
    assert detect_source(ckpt) == 'localmim-vit-official'
    state, report = import_checkpoint(ckpt, model)
    model.load_state_dict(state, strict=True)
    for key, value in state.items():
        torch.testing.assert_close(value, source[localmim_vit_name(key)], atol=0, rtol=0)
    assert state['decoders.0.head.3.weight'].shape == (16, 8, 2, 2)          # 2nd ConvT
    torch.testing.assert_close(state['encoder.ln1.weight'], source['norm.3.weight'])
    torch.testing.assert_close(state['decoders.1.in_norm.bias'], source['norm.1.bias'])
    assert len(report.dropped_on_purpose) == 8                  # 4 pos tables + 4 HOG
    count = sum(k.startswith('decoders.') for k in model.state_dict())
    assert f'decoders: {count}/{count} tensors' in report.notes
    assert any(n.startswith("x4 head: the source's LayerNorms use eps 1e-06") for n in report.notes)


def test_localmim_vit_official__other_levels_in_the_config_fail_naming_them():
    cfg = localmim_vit_cfg()
    cfg['levels'][2]['tap'] = 'block4'
    model = built(cfg)
    source = random_like(model.state_dict(), localmim_vit_name)
    with pytest.raises(ConversionError, match="block5.*the config builds taps.*block4"):
        import_checkpoint({'model': source}, model, source='localmim-vit-official')


def localmim_swin_cfg() -> dict:
    levels = [dict(tap=t, decoder=dict(type='LocalMIMDecoder', dims=32, num_heads=2, scale=None))
              for t in ('merged0', 'merged1', 'merged2', 'out')]
    return dict(type='MultiLevelMaskedImageModel',
                masker=dict(type='RandomMasker', ratio=0.75, unit_size=32),
                encoder=dict(type='MaskedSwin', arch=TINY_SWIN, img_size=128, window_size=4,
                             masking='mask_token'),
                levels=levels,
                target=dict(type='HOGTarget', nbins=18, cell_sizes=(8, 16, 32, 32)))


def localmim_swin_name(key: str):
    found = re.match(r'decoders\.(\d)\.(in_norm|mae)\.(.+)$', key)
    if found:
        k, part, rest = found.groups()
        if part == 'in_norm':
            return f'encoder.norm.{k}.{rest}'
        rest = rest.replace('predictor.', 'pred.')
        return timm_block_names(f'decoder.{k}.{rest}')
    if key == 'encoder.mask_token':
        return None
    if key.startswith('encoder.norm3.'):
        return 'encoder.norm.3.' + key[len('encoder.norm3.'):]
    return swin_official_name(key[len('encoder.'):])


def test_localmim_swin_official__greenmim_merging_and_levels_import_exactly():
    model = built(localmim_swin_cfg())
    before = model.state_dict()['encoder.mask_token'].clone()
    source = random_like(model.state_dict(), localmim_swin_name)
    grids = {0: 16, 1: 8, 2: 4, 3: 4}                          # level k's token grid
    for k, side in grids.items():
        source[f'decoder.{k}.pos_embed'] = sincos_pos_embed((side, side), 32)
    ckpt = {'model': source}
    assert detect_source(ckpt) == 'localmim-swin-official'
    state, report = import_checkpoint(ckpt, model)
    model.load_state_dict(state, strict=True)
    for stage in range(3):
        check_merging(model, source, 'rowmajor', stage)
    for key, value in state.items():
        name = localmim_swin_name(key)
        if name and 'downsample' not in key and not key.endswith('relative_position_index'):
            torch.testing.assert_close(value, source[name], atol=0, rtol=0)
    torch.testing.assert_close(state['encoder.mask_token'], before)  # the config's init
    assert report.expected_missing.count('encoder.mask_token') == 1
    assert any('sparse' in n for n in report.notes)
    assert any(n.startswith("encoder: the source's LayerNorms use eps 1e-06, this model's 1e-05")
               for n in report.notes)


def test_ummae_swin_official__stops_naming_position_mlp_and_conv_merging():
    model = built(simmim_cfg())
    state = {'patch_embed.proj.weight': torch.zeros(16, 3, 4, 4),
             'blocks.0.attn.posmlp.0.weight': torch.zeros(32, 2, 1, 1),
             'blocks.2.downsample.proj.weight': torch.zeros(32, 16, 2, 2),
             'decoder_embed.weight': torch.zeros(128, 32)}
    assert detect_source({'model': state}) == 'ummae-swin-official'
    with pytest.raises(ConversionError) as err:
        import_checkpoint({'model': state}, model)
    message = str(err.value)
    assert 'posmlp' in message and 'position bias' in message
    assert 'downsample.proj' in message and 'patch merging' in message


def test_detect_source__mmmim_checkpoint_is_pointed_to_load_from(mae_model):
    with pytest.raises(ValueError, match='load_from directly'):
        detect_source({'state_dict': mae_model.state_dict()})
