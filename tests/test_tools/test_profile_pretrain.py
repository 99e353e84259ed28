"""tools/analysis_tools/profile_pretrain.py on a tiny config derived from the demo."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from test_benchmark import DEMO, TINY
from test_benchmark_official import write_fake_ummae

ROOT = Path(__file__).parents[2]
TOOL = ROOT / 'tools' / 'analysis_tools' / 'profile_pretrain.py'


def load_tool():
    spec = importlib.util.spec_from_file_location('profile_pretrain', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_profile__top_operators_groups_optimizer_and_callers(tmp_path, capsys):
    config = tmp_path / 'tiny.py'
    config.write_text(TINY.format(demo=DEMO, dims=32, ffn=64))
    tool = load_tool()
    assert tool.main([str(config), '--batch-size', '2', '--steps', '1', '--warmup', '1',
                      '--callers', 'aten::copy_']) == 0
    out = capsys.readouterr().out
    assert 'batch 2 fp32' in out and 'profiled 1 steps' in out
    top = out.split('\noperator ')[1].split('\n\n')[0]
    assert 'aten::addmm' in top or 'aten::mm' in top          # Linears in the top list
    groups = out.split('group (self CPU time)')[1].split('\n\n')[0]
    shares = [float(line.split()[-1].rstrip('%')) for line in groups.strip().splitlines()[1:]]
    assert 0 < sum(shares) <= 100.5                               # shares of the step
    assert 'matmul / linear / conv' in groups
    assert 'Optimizer.step#AdamW.step' in out
    assert 'callers of aten::copy_' in out


def test_group_of__operator_names():
    tool = load_tool()
    assert tool.group_of('aten::_scaled_dot_product_flash_attention_for_cpu') == 'attention'
    assert tool.group_of('aten::addmm') == 'matmul / linear / conv'
    assert tool.group_of('aten::native_layer_norm_backward') == 'normalization'
    assert tool.group_of('aten::copy_') == 'copies / layout'
    assert tool.group_of('aten::_fused_adamw_') == 'optimizer step'
    assert tool.group_of('aten::index_put_') == 'gathers / scatters / index'


def test_profile__official_model_from_a_checkout(tmp_path):
    """``--official NAME --root PATH``: the official model of benchmark_official.py,
    built as that benchmark builds it (the fake UM-MAE checkout of its tests), in a
    fresh process as its shims need."""
    fake = write_fake_ummae(tmp_path / 'UM-MAE')
    proc = subprocess.run([sys.executable, str(TOOL), '--official', 'ummae_swin_tiny_256',
                           '--root', str(fake), '--batch-size', '2', '--steps', '1',
                           '--warmup', '0'], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f'ummae_swin_tiny_256 ({fake})' in proc.stdout and 'profiled 1 steps' in proc.stdout
    assert 'Optimizer.step' in proc.stdout  # the official loop's AdamW step is profiled


def test_profile__official_needs_a_root_and_excludes_a_config(capsys):
    tool = load_tool()
    for argv in (['--official', 'ummae_swin_tiny_256'], ['x.py', '--official', 'mae_vit_base',
                                                           '--root', '/r'], []):
        with pytest.raises(SystemExit):
            tool.parse_args(argv)
    assert '--official needs --root PATH' in capsys.readouterr().err
