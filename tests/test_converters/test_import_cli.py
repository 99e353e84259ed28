"""``convert.py SRC DST --to mmmim --config CFG`` end to end: an official MAE full
checkpoint imported for the demo config loads strictly where visualize_reconstruction
loads it, computes the official encoder's features and trains a step; failures exit 1
and write nothing. ``check_load_from`` tells what ``load_from`` would load."""
import importlib.util
import re
from pathlib import Path

import pytest
import torch
from photos import photo_tensor
from test_converters.test_import_official import mae_official_name, random_like

from mmmim.config_loading import build_model_from_cfg, load_config
from mmmim.converters import ConversionError, check_load_from
from mmmim.models.pos_embed import sincos_pos_embed
from mmmim.visualization.images import load_model

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / 'configs/demo/mae_vit-tiny_demo.py'


def convert_tool():
    spec = importlib.util.spec_from_file_location(
        'convert_tool', ROOT / 'tools/model_converters/convert.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def official_demo_checkpoint(path: Path) -> dict:
    """An official-MAE-named full checkpoint with the demo model's shapes."""
    model = build_model_from_cfg(load_config(str(DEMO)), init_weights=False)
    state = random_like(model.state_dict(), mae_official_name)
    state['decoder_pos_embed'] = torch.cat([torch.zeros(1, 1, 128),
                                            sincos_pos_embed((8, 8), 128)], 1)
    torch.save({'model': state}, path)
    return state


def timm_features(state: dict, images: torch.Tensor) -> torch.Tensor:
    """The official encoder (timm's VisionTransformer, MAE's) on whole images."""
    from timm.models.vision_transformer import VisionTransformer
    vit = VisionTransformer(img_size=64, patch_size=8, embed_dim=192, depth=4, num_heads=3,
                            num_classes=0).eval()
    vit.load_state_dict({k: v for k, v in state.items()
                         if not re.match(r'decoder_|mask_token', k)})
    with torch.no_grad():
        return vit.forward_features(images)


def test_import_cli__demo_config_loads_strictly_and_computes_the_official_features(
        tmp_path, capsys):
    src, dst = tmp_path / 'mae_pretrain_full.pth', tmp_path / 'imported.pth'
    state = official_demo_checkpoint(src)
    assert convert_tool().main([str(src), str(dst), '--to', 'mmmim',
                                '--config', str(DEMO)]) == 0
    out = capsys.readouterr().out
    assert 'status: OK' in out and 'encoder: 54/54 tensors' in out
    assert 'decoder: 31/31 tensors' in out and f'load_from={dst}' in out
    saved = torch.load(dst, weights_only=True)
    assert saved['meta']['source'] == 'mae-official'
    assert 'status: OK' in saved['meta']['load_report']
    _, model = load_model(DEMO, dst)             # visualize_reconstruction's loader
    images = photo_tensor(64)
    with torch.no_grad():
        feats = model.encoder(images)[0]
    torch.testing.assert_close(feats, timm_features(state, images), atol=1e-4, rtol=0)
    model.train()
    loss = model.loss(images)['loss']              # a pretraining step continues
    loss.backward()
    assert torch.isfinite(loss) and model.decoder.mask_token.grad is not None


def test_import_cli__encoder_only_checkpoint_exits_1_writing_nothing(tmp_path, capsys):
    src, dst = tmp_path / 'encoder_only.pth', tmp_path / 'imported.pth'
    state = official_demo_checkpoint(src)
    encoder = {k: v for k, v in state.items() if not re.match(r'decoder_|mask_token', k)}
    torch.save({'model': encoder}, src)
    assert convert_tool().main([str(src), str(dst), '--to', 'mmmim', '--config', str(DEMO),
                                '--source', 'mae-official']) == 1
    assert 'the decoder did not load' in capsys.readouterr().err
    assert not dst.exists()


def test_import_cli__without_config_exits_1_saying_so(tmp_path, capsys):
    assert convert_tool().main([str(tmp_path / 'a.pth'), str(tmp_path / 'b.pth'),
                                '--to', 'mmmim']) == 1
    assert '--config' in capsys.readouterr().err


def test_check_load_from__imported_file_ok_released_or_partial_files_fail(tmp_path):
    src, dst = tmp_path / 'mae_pretrain_full.pth', tmp_path / 'imported.pth'
    official_demo_checkpoint(src)
    assert convert_tool().main([str(src), str(dst), '--to', 'mmmim',
                                '--config', str(DEMO)]) == 0
    model = build_model_from_cfg(load_config(str(DEMO)), init_weights=False)
    report = check_load_from(model, str(dst))
    assert report.ok and 'decoder: 31/31 tensors' in report.notes
    with pytest.raises(ConversionError, match='released mae-official checkpoint.*Import it'):
        check_load_from(model, str(src))
    saved = torch.load(dst, weights_only=True)['state_dict']
    encoder_only = tmp_path / 'encoder_only.pth'
    torch.save({'state_dict': {k: v for k, v in saved.items() if k.startswith('encoder.')}},
               encoder_only)
    with pytest.raises(ConversionError, match='the decoder did not load'):
        check_load_from(model, str(encoder_only))


def test_import_cli__safetensors_source_and_output_keep_tensors_and_report(tmp_path):
    from safetensors.torch import save_file

    from mmmim.converters.files import read_load_report, read_safetensors
    state = official_demo_checkpoint(tmp_path / 'unused.pth')
    src, dst = tmp_path / 'model.safetensors', tmp_path / 'imported.safetensors'
    save_file({k: v.contiguous() for k, v in state.items()}, str(src))
    assert convert_tool().main([str(src), str(dst), '--to', 'mmmim',
                                '--config', str(DEMO)]) == 0
    tensors, meta = read_safetensors(str(dst))
    assert meta['source'] == 'mae-official' and read_load_report(str(dst)).ok
    torch.testing.assert_close(tensors['encoder.layers.3.ffn.layers.1.weight'],
                               state['blocks.3.mlp.fc2.weight'], atol=0, rtol=0)
