"""export_hf.py: a folder timm loads offline (ViT, Swin) giving our encoder's features,
its config.json and model card, the failures that name their cause; the ViT-MAE export
to transformers' ViTMAEForPreTraining with equal reconstructions (when installed)."""
import copy
import importlib.util
import json

import pytest
import timm
import torch
from mmengine.config import Config
from test_converters.helpers import IMAGE, tiny_pretrained_model
from test_converters.test_converter_tools import run_tool
from test_models.tiny import tiny_mae_cfg

from mmmim.converters.export import ExportError, compare_features, export_timm
from mmmim.converters.files import read_load_report

MEAN, STD = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]


def tiny_mae_config() -> dict:
    """The config :func:`tiny_pretrained_model` builds, with a data preprocessor."""
    cfg = tiny_mae_cfg(IMAGE)
    cfg['encoder']['secondary_token'] = True
    cfg['data_preprocessor'] = dict(mean=MEAN, std=STD, bgr_to_rgb=True)
    return cfg


def save_pretraining(path, model, model_cfg, with_cfg=True) -> str:
    """A checkpoint as mmengine's runner saves it: state_dict and meta (epoch, the
    config's text, the run's name)."""
    meta = {'epoch': 3, 'experiment_name': 'tiny_mae_run'}
    if with_cfg:
        meta['cfg'] = Config(dict(model=model_cfg, train_cfg=dict(max_epochs=4))).pretty_text
    torch.save({'state_dict': model.state_dict(), 'meta': meta}, path)
    return str(path)


@pytest.fixture(scope='module')
def vit_export(tmp_path_factory):
    """(model, checkpoint, exported folder, tool stdout) of ``export_hf.py CKPT OUT``."""
    model = tiny_pretrained_model(secondary_token=True)
    tmp = tmp_path_factory.mktemp('export')
    ckpt = save_pretraining(tmp / 'mae.pth', model, tiny_mae_config())
    out = tmp / 'vit_timm'
    result = run_tool('export_hf.py', ckpt, str(out))
    assert result.returncode == 0, result.stderr
    return model, ckpt, out, result.stdout


def test_export_hf__vit_folder_loads_offline_in_timm_with_our_features(vit_export,
                                                                      photo_batch):
    model, _, out, stdout = vit_export
    assert sorted(p.name for p in out.iterdir()) == ['README.md', 'config.json',
                                                    'model.safetensors']
    timm_vit = timm.create_model(f'local-dir:{out}', pretrained=True).eval()
    with torch.no_grad():
        torch.testing.assert_close(timm_vit.forward_features(photo_batch),
                                   model.encoder(photo_batch)[0], atol=1e-5, rtol=0)
    assert 'check: exported outputs equal ours' in stdout


def test_export_hf__weights_file_alone_loads_with_pretrained_cfg_overlay(vit_export,
                                                                        photo_batch):
    """The other way timm users load a file: the architecture, ``model_args`` from
    config.json, and ``pretrained_cfg_overlay=dict(file=...)``."""
    model, _, out, _ = vit_export
    config = json.loads((out / 'config.json').read_text())
    timm_vit = timm.create_model(
        config['architecture'], pretrained=True, num_classes=0,
        pretrained_cfg_overlay=dict(file=str(out / 'model.safetensors')),
        **config['model_args']).eval()
    with torch.no_grad():
        torch.testing.assert_close(timm_vit.forward_features(photo_batch),
                                   model.encoder(photo_batch)[0], atol=1e-5, rtol=0)


def test_export_hf__config_json_is_timms_layout_with_our_preprocessing(vit_export):
    _, _, out, _ = vit_export
    config = json.loads((out / 'config.json').read_text())
    assert config['architecture'] == 'vit_base_patch16_224' and config['num_classes'] == 0
    assert config['num_features'] == 32
    assert config['model_args']['embed_dim'] == 32 and config['model_args']['depth'] == 2
    assert config['model_args']['img_size'] == IMAGE
    cfg = config['pretrained_cfg']
    assert cfg['input_size'] == [3, IMAGE, IMAGE] and cfg['num_classes'] == 0
    assert cfg['mean'] == pytest.approx([m / 255 for m in MEAN], abs=1e-6)
    assert cfg['std'] == pytest.approx([s / 255 for s in STD], abs=1e-6)
    assert not {'url', 'hf_hub_id', 'file'} & set(cfg)        # no foreign weight source


def test_export_hf__model_card_states_config_epochs_and_load_report(vit_export):
    _, _, out, _ = vit_export
    card = (out / 'README.md').read_text()
    assert card.startswith('---\nlibrary_name: timm\n')
    assert 'config: `tiny_mae_run`' in card and 'trained: 3 of 4 epochs' in card
    assert 'status: OK, backbone fully loaded' in card and 'secondary_token' in card
    assert "type='MaskedViT'" in card                           # the full config
    assert "timm features equal the mmmim encoder's" in card
    assert read_load_report(out / 'model.safetensors').ok


def test_compare_features__another_encoder_fails_the_check(vit_export):
    """The export check can fail: an encoder with one weight perturbed differs."""
    model, _, out, _ = vit_export
    other = copy.deepcopy(model.encoder)
    with torch.no_grad():
        weight = other.layers[0].ffn.layers[1].weight
        weight.add_(0.1 * torch.randn_like(weight))
    with pytest.raises(ExportError, match='differ'):
        compare_features(str(out), other, 'vit', [IMAGE, IMAGE])


def test_export_hf__checkpoint_without_config_exits_1_asking_for_it(pretrained, tmp_path):
    _, ckpt = pretrained
    result = run_tool('export_hf.py', ckpt, str(tmp_path / 'out'))
    assert result.returncode == 1
    assert 'carries no pretraining config' in result.stderr and '--config' in result.stderr


def test_export_timm__config_file_stands_in_for_meta(pretrained, tmp_path, photo_batch):
    model, ckpt = pretrained
    config = tmp_path / 'tiny_mae.py'
    Config(dict(model=tiny_mae_config())).dump(str(config))
    done = export_timm(ckpt, str(tmp_path / 'out'), config=str(config))
    assert done.max_abs_diff is not None and done.max_abs_diff < 1e-5
    assert 'config: `tiny_mae`' in (tmp_path / 'out' / 'README.md').read_text()


def test_export_timm__arch_of_another_family_fails_naming_it(vit_export, tmp_path):
    _, ckpt, _, _ = vit_export
    with pytest.raises(ExportError, match='not a vit architecture'):
        export_timm(ckpt, str(tmp_path / 'out'), arch='swin_tiny_patch4_window7_224')
    with pytest.raises(ExportError, match='not a timm model name'):
        export_timm(ckpt, str(tmp_path / 'out'), arch='no_such_model')


def tiny_swin_pretraining(tmp_path, **encoder) -> tuple:
    """(model, checkpoint) of a tiny SimMIM-style Swin, every tensor perturbed."""
    from mmengine.registry import init_default_scope

    from mmmim.registry import MODELS
    init_default_scope('mmmim')
    cfg = dict(type='MaskedImageModel', masker=dict(type='RandomMasker', unit_size=32),
               encoder=dict(type='MaskedSwin', img_size=IMAGE, out_indices=(1,),
                            arch=dict(embed_dims=16, depths=[2, 2], num_heads=[1, 2]),
                            **encoder),
               decoder=dict(type='SimMIMDecoder'), target=dict(type='PixelTarget', patch_size=32))
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    model.eval()
    return model, save_pretraining(tmp_path / 'swin.pth', model, cfg)


def test_export_timm__swin_gives_our_last_stage_features(tmp_path, photo_batch):
    model, ckpt = tiny_swin_pretraining(tmp_path, window_size=4)
    done = export_timm(ckpt, str(tmp_path / 'out'))
    assert done.exact and done.model_args['depths'] == [2, 2]
    assert done.model_args['window_size'] == 4
    swin = timm.create_model(f'local-dir:{tmp_path / "out"}', pretrained=True).eval()
    with torch.no_grad():
        ours = model.encoder(photo_batch)[-1]
        torch.testing.assert_close(swin.forward_features(photo_batch).permute(0, 3, 1, 2),
                                   ours, atol=1e-4, rtol=0)


def test_export_timm__compact_swin_windows_are_noted_not_failed(tmp_path):
    """Compact masking clamps windows to the half-size grid (8 then 4 at 64 px);
    timm's Swin clamps to the full grid (8, 8): the export resizes the tables, says
    so, and its check reports the difference without failing."""
    _, ckpt = tiny_swin_pretraining(tmp_path, window_size=8, masking='compact')
    done = export_timm(ckpt, str(tmp_path / 'out'))
    assert not done.exact and done.max_abs_diff > 1e-3
    assert any('stage windows [8, 4] in pretraining' in n for n in done.notes)
    assert 'different by design' in (tmp_path / 'out' / 'README.md').read_text()


def test_export_vitmae__transformers_reconstructions_equal_ours(vit_export, tmp_path,
                                                               photo_batch):
    """Encoder and decoder exported to ViTMAEForPreTraining: with our mask passed as
    ``noise``, the same masked units, reconstructions and loss on real photographs."""
    pytest.importorskip('transformers')
    from transformers import ViTMAEForPreTraining

    from mmmim.converters.vitmae import export_vitmae, noise_for_mask
    model, ckpt, _, _ = vit_export
    done = export_vitmae(ckpt, str(tmp_path / 'hf'))
    assert done.report.ok and 'encoder.secondary_token' in done.report.dropped_on_purpose
    hf = ViTMAEForPreTraining.from_pretrained(str(tmp_path / 'hf')).eval()
    with torch.no_grad():
        torch.manual_seed(1)
        masks = model.masker(photo_batch)
        ours = model.decoder(model.encoder(photo_batch, masks), masks)
        loss = model.reconstruction_loss(ours, model.target(photo_batch), masks, photo_batch)
        theirs = hf(pixel_values=photo_batch, noise=noise_for_mask(masks.mask))
    assert torch.equal(theirs.mask.bool(), masks.mask)
    torch.testing.assert_close(theirs.logits, ours, atol=1e-5, rtol=0)
    torch.testing.assert_close(theirs.loss, loss, atol=1e-6, rtol=1e-5)


def test_noise_for_mask__keeps_exactly_the_visible_units():
    from mmmim.converters.vitmae import noise_for_mask
    mask = torch.rand(3, 16).argsort(dim=1) < 12                       # 12 masked per row
    keep = noise_for_mask(mask).argsort(dim=1)[:, :4]
    visible = torch.zeros_like(mask).scatter_(1, keep, True)
    assert torch.equal(visible, ~mask)


def test_export_hf__without_transformers_exits_1_saying_how_to_install(vit_export, tmp_path):
    if importlib.util.find_spec('transformers') is not None:
        pytest.skip('transformers is installed')
    _, ckpt, _, _ = vit_export
    result = run_tool('export_hf.py', ckpt, str(tmp_path / 'hf'), '--library', 'transformers')
    assert result.returncode == 1 and 'pip install "transformers' in result.stderr
    assert not (tmp_path / 'hf').exists()


def test_pretraining_progress__epochs_or_iterations_of_the_run():
    from mmmim.converters.export import Pretraining
    cfg = Config(dict(model=dict()))
    assert Pretraining('c', {}, cfg, 's', epoch=3, max_epochs=400).progress() == '3 of 400 epochs'
    assert Pretraining('c', {}, cfg, 's', epoch=0, iteration=2000,
                       max_iters=5000).progress() == '2000 of 5000 iterations'
    assert Pretraining('c', {}, cfg, 's').progress() == 'unknown'
