"""tools/experiments/digits_window_probe.py moves a UM-MAE digits encoder (window 2 in
its last stage, from the compact grid) into the SimMIM digits encoder (window 4) with
every weight but the relative position tables unchanged."""
import importlib.util
import sys
from pathlib import Path

import pytest
import torch

from mmmim.config_loading import build_model_from_cfg, config_scope, load_config

ROOT = Path(__file__).resolve().parents[2]


def load_tool():
    sys.path.insert(0, str(ROOT / 'tools' / 'experiments'))
    spec = importlib.util.spec_from_file_location(
        'digits_window_probe', ROOT / 'tools' / 'experiments' / 'digits_window_probe.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


probe_tool = load_tool()


def build(method: str, seed: int):
    cfg = load_config(str(probe_tool.digits_claims.CONFIGS /
                          probe_tool.digits_claims.METHODS[method]))
    with config_scope(cfg):
        torch.manual_seed(seed)
        return build_model_from_cfg(cfg).encoder


def test_into_full_windows__weights_kept_and_last_stage_tables_resized_to_window_4():
    ummae, full = build('ummae', 0), build('simmim', 1)
    state = ummae.state_dict()
    probe_tool.into_full_windows(state, full)
    moved = full.state_dict()
    tables = [k for k in state if k.endswith('relative_position_bias_table')]
    resized = [k for k in tables if state[k].shape != moved[k].shape]
    assert resized and all(k.startswith('stages.2.') for k in resized)
    assert all(moved[k].shape == (49, state[k].shape[1]) for k in resized)  # (2*4-1)^2
    for key, value in state.items():
        if key in moved and key not in resized and not key.endswith(
                'relative_position_index'):
            assert torch.equal(moved[key], value), key
    # the centre offset (0, 0) of the 3x3 table lands on the 7x7 table's centre
    for key in resized:
        assert torch.allclose(moved[key][24], state[key][4], atol=1e-6)


def test_into_full_windows__a_missing_encoder_weight_fails_loudly():
    ummae, full = build('ummae', 0), build('simmim', 1)
    state = ummae.state_dict()
    del state['stages.1.blocks.0.ffn.layers.1.weight']
    with pytest.raises(RuntimeError, match='stages.1.blocks.0.ffn.layers.1.weight'):
        probe_tool.into_full_windows(state, full)
