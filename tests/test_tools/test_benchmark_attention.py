"""tools/experiments/benchmark_attention.py: its kernel table and what it counts."""
import importlib.util
from pathlib import Path

import torch
import torch.nn.functional as F

from mmmim.models.fast_blocks import explicit_attention

TOOL = Path(__file__).parents[2] / 'tools' / 'experiments' / 'benchmark_attention.py'


def load_tool():
    spec = importlib.util.spec_from_file_location('benchmark_attention', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_saved_bytes__explicit_keeps_the_weights_fused_does_not():
    """[1, 2, 256, 256] bf16 weights are 0.25 MB; q, k, v [1, 2, 256, 8] 8 KB each."""
    tool = load_tool()
    shape = (1, 2, 256, 256, 8)
    _, fused = tool.time_call(F.scaled_dot_product_attention, shape, torch.bfloat16, 1)
    _, explicit = tool.time_call(explicit_attention, shape, torch.bfloat16, 1)
    assert fused < 0.1 < 0.25 <= explicit, (fused, explicit)


def test_table__one_row_per_shape(monkeypatch, capsys):
    tool = load_tool()
    monkeypatch.setattr(tool, 'SHAPES', {'tiny': (1, 1, 4, 4, 4), 'tiny 2': (2, 1, 8, 8, 4)})
    assert tool.main(['--runs', '1']) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(line for line in lines if line.startswith('| shape'))
    rows = [line for line in lines if line.startswith('| tiny')]
    assert len(rows) == 2, rows
    assert all(row.count('|') == header.count('|') == 7 for row in rows), (header, rows)


def test_swin_table__one_row_per_shape_six_timings(monkeypatch, capsys):
    tool = load_tool()
    monkeypatch.setattr(tool, 'SWIN_SHAPES', {'tiny swin': (1, (8, 8), 16, 2, 4)})
    assert tool.main(['--runs', '1', '--swin']) == 0
    rows = [line for line in capsys.readouterr().out.splitlines()
            if line.startswith('| tiny swin')]
    assert len(rows) == 1 and rows[0].count('|') == 8
