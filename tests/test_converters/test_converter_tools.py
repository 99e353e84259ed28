"""The converter command-line tools: report printed, exit status, files that load."""
import subprocess
import sys
from pathlib import Path

import torch
from test_converters.helpers import IMAGE, tiny_timm_vit

ROOT = Path(__file__).resolve().parents[2]


def run_tool(name, *args):
    return subprocess.run([sys.executable, str(ROOT / 'tools/model_converters' / name), *args],
                          capture_output=True, text=True, cwd=ROOT,
                          env={'OMP_NUM_THREADS': '1', 'PATH': '/usr/bin:/bin'})


def test_mmcls2timm__writes_model_dict_that_loads_into_timm(pretrained, tmp_path):
    _, path = pretrained
    out = run_tool('mmcls2timm.py', path, str(tmp_path / 'timm.pth'))
    assert out.returncode == 0, out.stderr
    assert 'status: OK' in out.stdout and 'dropped on purpose' in out.stdout
    state = torch.load(tmp_path / 'timm.pth', weights_only=True)['model']
    missing, unexpected = tiny_timm_vit().load_state_dict(state, strict=False)
    assert sorted(missing) == ['head.bias', 'head.weight'] and not unexpected


def test_convert__img_size_resizes_for_mmseg(pretrained, tmp_path):
    _, path = pretrained
    out = run_tool('convert.py', path, str(tmp_path / 'seg.pth'), '--to', 'mmseg',
                   '--img-size', str(2 * IMAGE), str(IMAGE))
    assert out.returncode == 0, out.stderr
    state = torch.load(tmp_path / 'seg.pth', weights_only=True)['state_dict']
    assert state['pos_embed'].shape[1] == 1 + 8 * 4
    assert 'pos_embed resized' in out.stdout


def test_convert__mmpretrain_layout_has_backbone_prefix(pretrained, tmp_path):
    _, path = pretrained
    out = run_tool('convert.py', path, str(tmp_path / 'cls.pth'), '--to', 'mmpretrain')
    assert out.returncode == 0, out.stderr
    state = torch.load(tmp_path / 'cls.pth', weights_only=True)['state_dict']
    assert all(k.startswith('backbone.') for k in state)


def test_convert__wrong_checkpoint_exits_nonzero_and_writes_nothing(tmp_path):
    bad = tmp_path / 'bad.pth'
    torch.save({'state_dict': {'backbone.stages.0.blocks.0.attn.w_msa.qkv.weight':
                               torch.zeros(3, 1)}}, bad)
    out = run_tool('convert.py', str(bad), str(tmp_path / 'x.pth'), '--to', 'timm',
                   '--family', 'vit')
    assert out.returncode == 1
    assert 'no backbone tensor matched' in out.stderr and 'swin' in out.stderr
    assert not (tmp_path / 'x.pth').exists()
