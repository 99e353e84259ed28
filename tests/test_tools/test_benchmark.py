"""tools/analysis_tools/benchmark_pretrain.py on tiny configs derived from the demo
config: one record per config, sane figures, ratios against the first config, and a
config that fails to build reported by name while the others still run; with
``--pipeline``, batches of the config's own train pipeline, which lets mmpretrain's
SimMIM (reading the mask its pipeline makes) run through the tool."""
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import AmpOptimWrapper, OptimWrapper

from mimbench import (
    benchmark_config,
    parse_args,
    photo_batch,
    pipeline_batches,
    precision_counterpart,
)
from mimbench.config import input_size
from mmmim.config_loading import config_scope, load_config

ROOT = Path(__file__).parents[2]
CLI = ROOT / 'tools' / 'analysis_tools' / 'benchmark_pretrain.py'
DEMO = ROOT / 'configs' / 'demo' / 'mae_vit-tiny_demo.py'
PEER_SIMMIM = ROOT / 'configs' / 'benchmarks' / 'peers' / 'mmpretrain_simmim_swin-tiny-w8_256px.py'
# The demo pipeline (load, RandomResizedCrop, flip, pack) cropping to the tiny size.
PIPELINE_32PX = ['train_dataloader.dataset.pipeline.1.scale=32']

TINY = """_base_ = '{demo}'
model = dict(
    encoder=dict(arch=dict(embed_dims={dims}, num_layers=2, num_heads=2,
                           feedforward_channels={ffn}), img_size=32),
    decoder=dict(dims=32, depth=1, num_heads=2))
"""
UNKNOWN_TYPE = """_base_ = './tiny_small.py'
model = dict(type='NoSuchModel')
"""


def write_configs(root: Path) -> dict:
    texts = dict(tiny_small=TINY.format(demo=DEMO, dims=32, ffn=64),
                 unknown_type=UNKNOWN_TYPE,
                 tiny_wide=TINY.format(demo=DEMO, dims=64, ffn=128))
    paths = {}
    for name, text in texts.items():
        paths[name] = root / f'{name}.py'
        paths[name].write_text(text)
    return paths


@pytest.fixture(scope='module')
def cli_run(tmp_path_factory):
    """One CLI run over [tiny_small, unknown_type, tiny_wide]."""
    root = tmp_path_factory.mktemp('benchmark')
    paths = write_configs(root)
    out = root / 'results.json'
    command = [sys.executable, str(CLI), str(paths['tiny_small']), str(paths['unknown_type']),
               str(paths['tiny_wide']), '--batch-size', '2', '--iters', '1', '--warmup', '1',
               '--image-size', '32', '--device', 'cpu', '--json', str(out)]
    proc = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.exists(), proc.stderr[-3000:]
    return proc, json.loads(out.read_text()), paths


def test_benchmark__one_record_per_config_in_given_order(cli_run):
    _, records, paths = cli_run
    assert [r['config'] for r in records] == [
        str(paths['tiny_small']), str(paths['unknown_type']), str(paths['tiny_wide'])]


def test_benchmark__figures_positive_and_finite(cli_run):
    _, records, _ = cli_run
    for record in (records[0], records[2]):
        assert record['error'] is None, record
        for key in ('images_per_s', 'sec_per_iter', 'peak_mem_mb', 'params',
                    'params_trainable', 'loss'):
            assert math.isfinite(record[key]) and record[key] > 0, (key, record)
        assert record['params_trainable'] <= record['params']
        assert record['image_size'] == [32, 32]
        assert (record['batch_size'], record['iters'], record['device'],
                record['dtype']) == (2, 1, 'cpu', 'float32')
        assert record['torch_version'] == torch.__version__
    assert records[2]['params'] > records[0]['params']  # the wider model is the larger


def test_benchmark__first_config_is_the_ratio_reference(cli_run):
    _, records, _ = cli_run
    first, wide = records[0], records[2]
    assert first['images_per_s_ratio'] == 1.0 and first['peak_mem_ratio'] == 1.0
    assert wide['images_per_s_ratio'] == pytest.approx(
        wide['images_per_s'] / first['images_per_s'])
    assert wide['peak_mem_ratio'] == pytest.approx(wide['peak_mem_mb'] / first['peak_mem_mb'])


def test_benchmark__unknown_model_type_named_with_its_config_others_still_run(cli_run):
    proc, records, paths = cli_run
    failed = records[1]
    assert 'NoSuchModel' in failed['error'] and 'build model' in failed['error']
    assert failed['images_per_s'] is None
    assert f"FAILED {paths['unknown_type']}: build model" in proc.stdout
    assert all(str(paths[name]) in proc.stdout for name in ('tiny_small', 'tiny_wide'))
    assert proc.returncode == 1


def test_benchmark_config__amp_on_cpu_runs_in_bf16(tmp_path):
    paths = write_configs(tmp_path)
    record = benchmark_config(str(paths['tiny_small']), batch_size=2, iters=1, warmup=0,
                              amp=True, image_size=32, device='cpu')
    assert record['dtype'] == 'bfloat16' and math.isfinite(record['loss'])


def test_benchmark_config__batch_size_0_is_the_configs_per_gpu_batch(tmp_path):
    paths = write_configs(tmp_path)
    record = benchmark_config(str(paths['tiny_small']), batch_size=0, iters=1, warmup=0,
                              image_size=32, device='cpu', flops=False,
                              cfg_options=['train_dataloader.batch_size=3'])
    assert record['error'] is None and record['batch_size'] == 3
    assert parse_args(['c.py', '--batch-size', '0', '--iters', '1']).batch_size == 0
    with pytest.raises(SystemExit):
        parse_args(['c.py', '--batch-size', '-1', '--iters', '1'])


def test_benchmark_config__compiled_step_trains_and_counts_the_eager_flops(tmp_path):
    paths = write_configs(tmp_path)
    common = dict(batch_size=2, iters=1, warmup=1, image_size=32, device='cpu')
    eager = benchmark_config(str(paths['tiny_small']), **common)
    compiled = benchmark_config(str(paths['tiny_small']), compile=dict(backend='eager'),
                                **common)
    assert compiled['compiled'] and not eager['compiled']
    assert math.isfinite(compiled['loss'])
    assert compiled['flops_per_step'] == eager['flops_per_step'] > 0


def test_input_size__train_pipeline_crop_unless_overridden():
    cfg = Config.fromfile(str(DEMO))
    assert input_size(cfg) == (64, 64)  # the demo crop (configs/_base_/datasets/demo.py)
    assert input_size(cfg, override=48) == (48, 48)


def test_benchmark_config__pipeline_batches_from_the_config_pipeline(tmp_path):
    paths = write_configs(tmp_path)
    record = benchmark_config(str(paths['tiny_small']), batch_size=2, iters=2, warmup=1,
                              device='cpu', pipeline=True, cfg_options=PIPELINE_32PX)
    assert record['error'] is None and math.isfinite(record['loss']), record
    assert record['images_per_s'] > 0 and record['peak_mem_mb'] > 0
    assert (record['data'], record['distinct_batches'], record['image_size']) == (
        'pipeline', 3, [32, 32])  # the size is the pipeline's crop


def test_pipeline_batches__distinct_seeded_batches_of_the_pipeline(tmp_path):
    paths = write_configs(tmp_path)
    cfg = load_config(str(paths['tiny_small']), {'train_dataloader.dataset.pipeline.1.scale': 24})
    with config_scope(cfg):
        first, second = pipeline_batches(cfg, batch_size=3, num_batches=2, seed=1)
        again = pipeline_batches(cfg, batch_size=3, num_batches=1, seed=1)[0]
    assert first['inputs'].shape == (3, 3, 24, 24) and first['inputs'].dtype == torch.uint8
    assert len(first['data_samples']) == 3
    assert not torch.equal(first['inputs'], second['inputs'])  # other photographs
    assert torch.equal(first['inputs'], again['inputs'])  # same seed, same crops


def test_parse_args__image_size_conflicts_with_pipeline():
    assert parse_args(['c.py', '--batch-size', '1', '--iters', '1', '--pipeline']).pipeline
    with pytest.raises(SystemExit):
        parse_args(['c.py', '--batch-size', '1', '--iters', '1', '--pipeline',
                    '--image-size', '32'])


def test_benchmark__mmpretrain_simmim_peer_runs_with_its_pipeline_mask(tmp_path):
    """mmpretrain's SimMIM Swin-T (its code, its pipeline's SimMIMMaskGenerator) at
    64 px, where window 2 divides every stage map (16/8/4/2)."""
    out = tmp_path / 'peer.json'
    command = [sys.executable, str(CLI), str(PEER_SIMMIM), '--pipeline', '--batch-size', '2',
               '--iters', '1', '--warmup', '1', '--device', 'cpu', '--json', str(out),
               '--cfg-options', 'model.backbone.img_size=64',
               'model.backbone.stage_cfgs.block_cfgs.window_size=2',
               'train_dataloader.dataset.pipeline.1.scale=64',
               'train_dataloader.dataset.pipeline.3.input_size=64']
    proc = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.exists(), proc.stderr[-3000:]
    (record,) = json.loads(out.read_text())
    assert record['error'] is None and proc.returncode == 0, proc.stderr[-3000:]
    assert (record['model'], record['data_preprocessor']) == ('SimMIM', 'SelfSupDataPreprocessor')
    assert record['image_size'] == [64, 64] and record['data'] == 'pipeline'
    assert math.isfinite(record['loss']) and record['images_per_s'] > 0
    assert 29e6 < record['params'] < 31e6  # Swin-T + linear decoder, as our SimMIM Swin-T


def test_peer_simmim_config__swin_tiny_at_256px():
    cfg = Config.fromfile(str(PEER_SIMMIM))
    backbone = cfg.model.backbone
    assert cfg.default_scope == 'mmpretrain' and cfg.model.type == 'SimMIM'
    assert (backbone.arch, backbone.img_size, backbone.stage_cfgs.block_cfgs.window_size) == (
        'tiny', 256, 8)
    assert cfg.model.neck.in_channels == 768
    mask = next(t for t in cfg.train_dataloader.dataset.pipeline
                if t['type'] == 'SimMIMMaskGenerator')
    assert (mask.input_size, mask.mask_patch_size, mask.model_patch_size, mask.mask_ratio) == (
        256, 32, 4, 0.6)
    assert input_size(cfg) == (256, 256)


def test_photo_batch__distinct_uint8_chw_photographs_at_size():
    images = photo_batch(3, (32, 48))
    assert all(i.dtype == torch.uint8 and i.shape == (3, 32, 48) for i in images)
    assert not torch.equal(images[0], images[1])


class GuardMixin:
    pass


class MixedGuarded(GuardMixin, OptimWrapper):
    pass


class MixedGuardedAmp(GuardMixin, AmpOptimWrapper):
    pass


class Guarded(OptimWrapper):
    pass


class InheritedGuardedAmp(AmpOptimWrapper, Guarded):
    pass


@pytest.mark.parametrize('cls, amp, expected', [
    (AmpOptimWrapper, False, OptimWrapper), (OptimWrapper, True, AmpOptimWrapper),
    (MixedGuardedAmp, False, MixedGuarded), (MixedGuarded, True, MixedGuardedAmp),
    (InheritedGuardedAmp, False, Guarded), (MixedGuarded, False, MixedGuarded)])
def test_precision_counterpart__keeps_what_the_wrapper_adds(cls, amp, expected):
    candidates = [MixedGuarded, MixedGuardedAmp, Guarded, InheritedGuardedAmp]
    assert precision_counterpart(cls, amp, candidates) is expected


def test_benchmark__flop_figures_recorded_and_consistent(cli_run):
    _, records, _ = cli_run
    for record in (records[0], records[2]):
        assert record['flops_per_step'] > 0
        assert record['achieved_flops_per_s'] == pytest.approx(
            record['flops_per_step'] / record['sec_per_iter'])
        assert record['matmul_ceiling_flops_per_s'] > 0
        assert record['flop_fraction'] == pytest.approx(
            record['achieved_flops_per_s'] / record['matmul_ceiling_flops_per_s'])
    assert records[2]['flops_per_step'] > records[0]['flops_per_step']  # wider model


def test_count_step_flops__linear_model_counts_forward_and_weight_gradient():
    """Forward 2*B*in*out; backward the same again for the weight gradient (the
    input needs none)."""
    from mmengine.model import BaseModel
    from mmengine.optim import OptimWrapper

    from mimbench import count_step_flops

    class OneLinear(BaseModel):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(32, 16, bias=False)

        def forward(self, inputs, data_samples=None, mode='loss'):
            return dict(loss=self.fc(inputs).square().mean())

    model = OneLinear()
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    flops = count_step_flops(model, wrapper, dict(inputs=torch.randn(8, 32)))
    assert flops == 4 * 8 * 32 * 16


def test_count_flops__fused_cpu_attention_counts_as_the_explicit_product():
    """torch's FlopCounterMode does not count the fused CPU attention kernel; ours
    counts it as the two products and their gradients, the same FLOPs as the
    explicit ``softmax(q k^T) v`` (which it does count as four matmuls)."""
    import torch.nn.functional as F

    from mimbench import count_flops
    from mimbench.measure import attention_flops

    q, k, v = (torch.randn(2, 3, n, 8, requires_grad=True) for n in (5, 7, 7))

    def fused(i):
        F.scaled_dot_product_attention(q, k, v).sum().backward()
        return 0.

    def explicit(i):
        ((q * 8**-0.5) @ k.transpose(-2, -1)).softmax(-1).matmul(v).sum().backward()
        return 0.

    assert attention_flops(q.shape, k.shape, v.shape) == 2 * 2 * 3 * 5 * 7 * (8 + 8)
    assert count_flops(fused) == count_flops(explicit) == 3 * attention_flops(
        q.shape, k.shape, v.shape)
