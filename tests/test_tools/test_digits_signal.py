"""tools/experiments/digits_signal.py: every method pretrains its own encoder on the
digits and is probed along a CPU-time clock; the report finds where one curve reaches
another's final accuracy. Tiny: 2 steps on a 300-image subset."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location(
        'digits_signal', ROOT / 'tools/experiments/digits_signal.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def digits(tool, tmp_path_factory):
    """A class-balanced subset: 300 train / 150 val digits from the tool's folder."""
    root = tmp_path_factory.mktemp('digits')
    tool.write_digits_folder(str(root))
    (x, y), (xv, yv) = tool.load_split(str(root), 'train'), tool.load_split(str(root), 'val')
    pick = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    pick_val = torch.randperm(len(yv), generator=torch.Generator().manual_seed(0))
    return (x[pick[:300]], y[pick[:300]]), (xv[pick_val[:150]], yv[pick_val[:150]])


@pytest.mark.parametrize('method, encoder_masking', [
    ('mae', None), ('pixmim', None), ('localmim', None),
    ('ummae', 'compact'), ('simmim', 'mask_token')])
def test_digits_tool__each_method_pretrains_its_encoder_and_is_probed(
        tool, digits, method, encoder_masking):
    record, model = tool.pretrain_and_probe(method, 0, digits, steps=2, evals=1, draws=1,
                                            log=lambda *_: None)
    assert getattr(model.encoder, 'masking', None) == encoder_masking
    start, end = record['curve']
    assert (start['step'], end['step']) == (0, 2)
    assert start['cpu_s'] == 0 and end['cpu_s'] > 0 and np.isfinite(end['loss'])
    for point in (start, end):  # 10 classes: chance is 0.1
        assert 0.2 < point['all'] <= 1 and 0.1 < point['few'] <= 1


def test_digits_tool__calibration_leaves_model_and_rng_untouched(tool, digits):
    model = tool.build_model('ummae', 0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(1)
    expected = torch.rand(3)
    torch.manual_seed(1)
    cost = tool.cpu_seconds_per_step('ummae', model, digits[0][0], calibration_steps=1)
    assert cost > 0 and torch.equal(torch.rand(3), expected)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


def test_digits_tool__report_finds_where_a_curve_reaches_the_others_final_probe(tool):
    def run(method, accs):
        return dict(method=method, seed=0, steps=len(accs) - 1, curve=[
            dict(step=i, epoch=i, cpu_s=10. * i, wall_s=20. * i, loss=1., all=a, few=a)
            for i, a in enumerate(accs)])
    text = tool.report([run('mae', [0.5, 0.6, 0.7, 0.8]), run('localmim', [0.5, 0.75, 0.85, 0.9])])
    assert "localmim reaches mae's final all-label probe 0.8000" in text
    assert 'first at step 2 (20 CPU s)' in text
