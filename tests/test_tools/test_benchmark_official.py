"""tools/analysis_tools/benchmark_official.py without the official checkouts: a tiny FAKE
UM-MAE checkout (same file layout and factory name, and the breakages of the real one:
``from turtle import pos`` with no Tk, ``qk_scale=None`` passed to timm's ``Block``,
``np.float``) imports and trains one timed step through the worker's shims, which
leave the checkout untouched; a missing root or file is named with its option; pairs
alternate A B A B; medians and ratios come from the runs; and our side and the
official side are timed by the same timing loop."""
import argparse
import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

from mimbench.official import (
    OFFICIAL_MODELS,
    UMMAE,
    CheckoutError,
    parse_args,
    run_pair,
    summarize_pair,
    weight_decay_groups,
)
from mimbench.official_shims import Shims

# slow: left out of `make test-fast` (make test runs everything)
pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[2]
DEMO = ROOT / 'configs' / 'demo' / 'mae_vit-tiny_demo.py'

FAKE_MODEL = '''
from turtle import pos  # the stray import of the official UM-MAE Swin files

import torch
import torch.nn as nn
from timm.models.vision_transformer import Block

from util.pos_embed import sincos_table


class TinyMaskedAutoencoder(nn.Module):
    """16-px patches of a 256-px image, one 8-d timm Block, pixel regression."""

    def __init__(self, norm_pix_loss=False, vis_mask_ratio=0.):
        super().__init__()
        self.embed = nn.Conv2d(3, 8, 16, 16)
        self.block = Block(8, 2, 2., qkv_bias=True, qk_scale=None)
        self.pred = nn.Linear(8, 16 * 16 * 3)
        self.register_buffer('pos', torch.from_numpy(sincos_table(8, 256)).float())

    def forward(self, imgs, mask):
        x = self.embed(imgs).flatten(2).transpose(1, 2) + self.pos
        pred = self.pred(self.block(x))
        target = imgs.unfold(2, 16, 16).unfold(3, 16, 16).permute(0, 2, 3, 1, 4, 5)
        target = target.reshape(pred.shape)
        loss = ((pred - target) ** 2).mean(-1)[mask].mean()
        return loss, pred, mask


def mae_swin_tiny_256(**kwargs):
    return TinyMaskedAutoencoder(**kwargs)
'''
FAKE_POS_EMBED = '''
import numpy as np


def sincos_table(dims, length):
    omega = np.arange(dims // 2, dtype=np.float) / (dims / 2.)
    angles = np.arange(length)[:, None] / 10000 ** omega[None]
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)
'''
FAKE_MASKS = '''
import numpy as np


class RandomMaskingGenerator:
    def __init__(self, input_size, mask_ratio, regular=False):
        self.num_patches = input_size * input_size
        self.num_mask = int(mask_ratio * self.num_patches)

    def __call__(self):
        mask = np.hstack([np.zeros(self.num_patches - self.num_mask),
                          np.ones(self.num_mask)])
        np.random.shuffle(mask)
        return mask
'''
# One fresh process, where Tk is missing (as on a headless machine): our tiny config's
# benchmark, then the official worker on the fake checkout, with the shared timing loop
# wrapped; prints which step callables that loop timed.
WORKER_SCRIPT = '''
import json, sys
sys.modules['tkinter'] = sys.modules['_tkinter'] = None  # import turtle now fails
sys.path.insert(0, 'tools')  # the bench, mimbench (cwd: the checkout)
import mimbench.measure as measure
from mimbench import benchmark_config
from mimbench.official import main

timed, original = [], measure.timed_steps

def spy(step, warmup, iters, device):
    timed.append(step.__qualname__)
    return original(step, warmup, iters, device)

measure.timed_steps = spy
config, *worker_argv = sys.argv[1:]
ours = benchmark_config(config, batch_size=2, iters=1, warmup=0, image_size=32, flops=False)
main(worker_argv)
print(json.dumps(dict(timed=timed, ours_images_per_s=ours['images_per_s'])))
'''
TINY_CONFIG = f'''_base_ = '{DEMO}'
model = dict(
    encoder=dict(arch=dict(embed_dims=32, num_layers=2, num_heads=2,
                           feedforward_channels=64), img_size=32),
    decoder=dict(dims=32, depth=1, num_heads=2))
'''


def write_fake_ummae(root: Path) -> Path:
    (root / 'util').mkdir(parents=True)
    (root / 'models_mae_swin.py').write_text(textwrap.dedent(FAKE_MODEL))
    (root / 'util' / 'pos_embed.py').write_text(textwrap.dedent(FAKE_POS_EMBED))
    (root / 'mask_transform.py').write_text(textwrap.dedent(FAKE_MASKS))
    return root


def checkout_files(root: Path) -> dict:
    return {p.relative_to(root): p.read_bytes() for p in root.rglob('*.py')}


def run_python(code: str, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-c', code, *argv], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)


@pytest.fixture(scope='module')
def worker_run(tmp_path_factory):
    """:data:`WORKER_SCRIPT` on the fake checkout: (process, official record, checkout
    files before, checkout path)."""
    tmp = tmp_path_factory.mktemp('official')
    fake = write_fake_ummae(tmp / 'UM-MAE')
    before = checkout_files(fake)
    config, out = tmp / 'tiny.py', tmp / 'record.json'
    config.write_text(TINY_CONFIG)
    proc = run_python(WORKER_SCRIPT, str(config), '--worker', 'ummae_swin_tiny_256',
                      '--ummae-root', str(fake), '--batch-size', '2', '--iters', '1',
                      '--warmup', '0', '--no-flops', '--device', 'cpu',
                      '--worker-out', str(out))
    assert proc.returncode == 0 and out.exists(), proc.stderr[-3000:]
    return proc, json.loads(out.read_text()), before, fake


def test_worker__shims_let_the_broken_checkout_import_and_train_a_timed_step(worker_run):
    proc, record, before, fake = worker_run
    assert record['error'] is None, (record, proc.stderr[-3000:])
    assert record['images_per_s'] > 0 and math.isfinite(record['loss'])
    assert record['image_size'] == [256, 256] and record['batch_size'] == 2
    assert record['factory'] == 'models_mae_swin.mae_swin_tiny_256'
    shims = ' | '.join(record['shims'])
    assert 'turtle: stub turtle.pos' in shims
    assert 'np.float -> float' in shims
    assert 'Block(qk_scale=None) dropped' in shims
    assert 'shim used: turtle' in proc.stderr  # each shim reports itself when used
    assert checkout_files(fake) == before  # the checkout is never edited


def test_ours_and_official_are_timed_by_the_same_timing_loop(worker_run):
    proc, record, _, _ = worker_run
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result['timed'] == ['train_step_fn.<locals>.step', 'official_step.<locals>.step']
    assert result['ours_images_per_s'] > 0 and record['images_per_s'] > 0


def test_worker__missing_file_in_the_checkout_names_option_path_and_clone_url(tmp_path):
    with pytest.raises(CheckoutError, match=r'--ummae-root .*: models_mae_swin\.py not found'
                       r'.*clone https://github\.com/implus/UM-MAE'):
        UMMAE.model_folder(str(tmp_path), 'models_mae_swin')
    with pytest.raises(CheckoutError, match='--ummae-root not given'):
        UMMAE.model_folder(None, 'models_mae_swin')


def test_parse_args__pair_without_its_root_or_file_is_an_error_naming_the_option(
        tmp_path, capsys):
    with pytest.raises(SystemExit):
        parse_args(['--pairs', 'mae_vit_base'])
    assert '--mae-root not given' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(['--mae-root', str(tmp_path)])
    err = capsys.readouterr().err
    assert f'--mae-root {tmp_path}: models_mae.py not found' in err
    fake = write_fake_ummae(tmp_path / 'UM-MAE')
    assert parse_args(['--ummae-root', str(fake), '--pairs', 'ummae_swin_tiny_256']).pairs == [
        'ummae_swin_tiny_256']


def _namespace(**kwargs) -> argparse.Namespace:
    defaults = dict(repeats=3, batch_size=None, iters=1, warmup=0, amp=False, device='cpu',
                    seed=0, no_flops=True)
    return argparse.Namespace(**{**defaults, **kwargs})


def test_run_pair__ours_and_official_alternate_in_fresh_runs():
    calls = []

    def runner(side):
        def run(name, args, batch_size):
            calls.append((side, name, batch_size))
            return dict(error=None, images_per_s=1.0)
        return run

    runs = run_pair('mae_vit_base', _namespace(repeats=3), runner('ours'), runner('official'))
    assert [c[0] for c in calls] == ['ours', 'official'] * 3
    assert {c[2] for c in calls} == {OFFICIAL_MODELS['mae_vit_base'].batch_size}
    assert [(r['side'], r['repeat']) for r in runs] == [
        ('ours', 0), ('official', 0), ('ours', 1), ('official', 1), ('ours', 2), ('official', 2)]


def _run(side, repeat, images_per_s, peak, base=800.0, error=None):
    return dict(pair='mae_vit_base', side=side, repeat=repeat, error=error, batch_size=16,
                dtype='float32', images_per_s=images_per_s, peak_mem_mb=peak,
                peak_mem_before_model_mb=base, shims=['numpy: np.float -> float'])


def test_summarize_pair__medians_and_per_repeat_ratios_from_the_runs():
    runs = [_run('ours', 0, 3.0, 2800), _run('official', 0, 2.0, 3000),
            _run('ours', 1, 2.0, 2600), _run('official', 1, 2.5, 3200),
            _run('ours', 2, 4.0, 2700), _run('official', 2, 2.0, 2800),
            _run('ours', 3, None, None, error='train step: boom'),
            _run('official', 3, 9.0, 9000)]
    summary = summarize_pair('mae_vit_base', runs)
    assert summary['repeats_ok'] == 3  # repeat 3 failed on our side: not a ratio
    assert summary['ours_images_per_s'] == 3.0  # median of 3, 2, 4
    assert summary['official_images_per_s'] == 2.25  # median of 2, 2.5, 2, 9
    assert summary['images_per_s_ratio'] == pytest.approx(1.5)  # median of 1.5, 0.8, 2
    assert summary['peak_mem_ratio'] == pytest.approx(2800 / 3000)  # of .933, .8125, .964
    assert summary['peak_above_base_ratio'] == pytest.approx(2000 / 2200)
    assert summary['errors'] == ['ours run 4: train step: boom']
    assert summary['shims'] == ['numpy: np.float -> float']


def test_weight_decay_groups__biases_and_1d_parameters_without_decay():
    model = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4))
    model.register_parameter('token', nn.Parameter(torch.zeros(1, 1, 4)))
    model.register_parameter('frozen', nn.Parameter(torch.zeros(4, 4), requires_grad=False))
    no_decay, decay = weight_decay_groups(model, 0.05)
    assert (no_decay['weight_decay'], decay['weight_decay']) == (0.0, 0.05)
    assert {id(p) for p in no_decay['params']} == {
        id(model[0].bias), id(model[1].weight), id(model[1].bias)}
    assert {id(p) for p in decay['params']} == {id(model[0].weight), id(model.token)}


class _FloatHistogram(nn.Module):
    """Scatters a conv output into a float32 tensor, as LocalMIM's HOGLayer does."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3, padding=1)

    def forward(self, x):
        out = torch.zeros(x.shape, dtype=torch.float)
        return out.scatter_(1, torch.zeros(x.shape, dtype=torch.long), self.conv(x))


def test_fp32_forward__module_broken_by_cpu_bf16_autocast_runs_and_reports():
    x = torch.randn(1, 1, 8, 8)
    with torch.autocast('cpu', dtype=torch.bfloat16), pytest.raises(RuntimeError,
                                                                    match='scatter'):
        _FloatHistogram()(x)
    cls = type('FloatHistogram', (_FloatHistogram,), {})
    shims = Shims(log=lambda line: None)
    shims.fp32_forward(cls, 'test')
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = cls()(x)
    assert out.dtype == torch.float32
    assert shims.used == ['FloatHistogram.forward in fp32 under CPU autocast (test)']
