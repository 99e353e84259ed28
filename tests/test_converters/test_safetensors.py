"""Converted files as safetensors: flat target keys, the load report kept in the
metadata, safetensors sources, and the failures a bad file gives."""
import json

import pytest
import torch
from safetensors.torch import load_file
from test_converters.helpers import tiny_timm_vit
from test_converters.test_converter_tools import run_tool

from mmmim.checkpoint_io import CheckpointError
from mmmim.converters import convert_checkpoint, load_weights
from mmmim.converters.files import (
    REPORT_KEY,
    convert_file,
    own_storages,
    read_load_report,
    read_safetensors,
    report_metadata,
    save_safetensors,
)


def test_convert__safetensors_loads_into_timm_and_keeps_the_report(pretrained, tmp_path):
    _, path = pretrained
    dst = tmp_path / 'timm.safetensors'
    out = run_tool('convert.py', path, str(dst), '--to', 'timm', '--format', 'safetensors')
    assert out.returncode == 0, out.stderr
    missing, unexpected = tiny_timm_vit().load_state_dict(load_file(dst), strict=False)
    assert sorted(missing) == ['head.bias', 'head.weight'] and not unexpected
    report = read_load_report(dst)
    assert report.ok and report.converter == 'vit->timm'
    assert 'secondary_token' in report.dropped_on_purpose
    _, meta = read_safetensors(dst)
    assert meta['format'] == 'pt' and meta['mmmim_layout'] == 'model'


def test_convert__safetensors_tensors_equal_the_pth_ones(pretrained, tmp_path):
    """Same conversion, two formats: the mmpretrain layout flattens to ``backbone.``
    keys holding exactly the ``state_dict`` tensors of the .pth file."""
    _, path = pretrained
    convert_file(path, str(tmp_path / 'cls.pth'), 'mmpretrain')
    convert_file(path, str(tmp_path / 'cls.safetensors'), 'mmpretrain')
    pth = torch.load(tmp_path / 'cls.pth', weights_only=True)['state_dict']
    safe = load_file(tmp_path / 'cls.safetensors')
    assert sorted(safe) == sorted(pth) and all(k.startswith('backbone.') for k in safe)
    assert all(torch.equal(safe[k], pth[k]) for k in pth)


def test_mmcls2timm__suffix_picks_safetensors(pretrained, tmp_path):
    _, path = pretrained
    out = run_tool('mmcls2timm.py', path, str(tmp_path / 'timm.safetensors'))
    assert out.returncode == 0, out.stderr
    assert 'blocks.0.attn.qkv.weight' in load_file(tmp_path / 'timm.safetensors')


def test_convert__safetensors_source_converts_like_the_checkpoint(pretrained, tmp_path):
    _, path = pretrained
    state = load_weights(path)['state_dict']
    src = tmp_path / 'pretrain.safetensors'
    save_safetensors(state, str(src), {'format': 'pt'})
    from_pth, _ = convert_checkpoint(load_weights(path), 'vit', 'timm')
    from_safe, report = convert_file(str(src), str(tmp_path / 'out.pth'), 'timm')
    assert sorted(from_safe) == sorted(from_pth)
    assert all(torch.equal(from_safe[k], from_pth[k]) for k in from_pth)
    assert 'mmmim pretraining checkpoint' in report.source


@pytest.mark.parametrize('content', [b'', b'not a safetensors file at all'])
def test_convert__unreadable_safetensors_source_exits_1_naming_the_file(tmp_path, content):
    bad = tmp_path / 'bad.safetensors'
    bad.write_bytes(content)
    out = run_tool('convert.py', str(bad), str(tmp_path / 'x.pth'), '--to', 'timm')
    assert out.returncode == 1
    assert 'bad.safetensors' in out.stderr and 'not a readable safetensors file' in out.stderr
    assert not (tmp_path / 'x.pth').exists()


def test_read_safetensors__missing_file_is_a_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match='does not exist'):
        read_safetensors(str(tmp_path / 'none.safetensors'))


def test_own_storages__views_of_one_tensor_are_saved_as_copies(tmp_path):
    """safetensors refuses tensors sharing memory; a converter's slices of one
    tensor (or a non-contiguous view) must still save, with their values."""
    base = torch.arange(12.).reshape(3, 4)
    state = {'a': base[0], 'b': base[1], 't': base.t()}
    owned = own_storages(state)
    assert owned['a'].untyped_storage().data_ptr() != owned['b'].untyped_storage().data_ptr()
    save_safetensors(state, str(tmp_path / 'v.safetensors'), {})
    loaded = load_file(tmp_path / 'v.safetensors')
    assert all(torch.equal(loaded[k], state[k]) for k in state)


def test_report_metadata__is_strings_and_round_trips(pretrained):
    _, path = pretrained
    _, report = convert_checkpoint(load_weights(path), 'vit', 'timm')
    meta = report_metadata(report, epoch=3)
    assert all(isinstance(v, str) for v in meta.values()) and meta['epoch'] == '3'
    assert json.loads(meta[REPORT_KEY])['matched'] == report.matched
