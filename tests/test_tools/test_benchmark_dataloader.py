"""The data-loading measurement tools: make_imagenet_like writes decodable JPEGs with
ImageNet's size distribution; benchmark_dataloader times three pipelines on them with
a per-stage split (read / decode / crop+resize / pack) and their ratios; and
benchmark_pretrain --pipeline reports the batch fetch time (data_time) beside the
step time."""
import json
import math
import statistics
import time
from pathlib import Path

import pytest
from PIL import Image

from mimbench import benchmark_config
from mimbench import data as benchmark_data
from mimbench import dataloader as bench
from mimbench.imagenet_like import image_sizes
from mimbench.imagenet_like import main as make_imagenet_like

ROOT = Path(__file__).parents[2]
DEMO = ROOT / 'configs' / 'demo' / 'mae_vit-tiny_demo.py'
TINY = """_base_ = '{demo}'
model = dict(
    encoder=dict(arch=dict(embed_dims=32, num_layers=2, num_heads=2,
                           feedforward_channels=64), img_size=32),
    decoder=dict(dims=32, depth=1, num_heads=2))
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageSafely'),
    dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.2, 1.0),
         backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackInputs')]))
"""


@pytest.fixture(scope='module')
def tiny_config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp('config') / 'tiny.py'
    path.write_text(TINY.format(demo=DEMO))
    return path


@pytest.fixture(scope='module')
def images(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp('imagenet_like')
    assert make_imagenet_like([str(out), '--num', '20', '--seed', '3']) == 0
    return out


def _sizes(folder: Path):
    paths = sorted(folder.rglob('*.JPEG'))
    sizes = []
    for path in paths:
        with Image.open(path) as image:
            image.load()  # decodes the whole file
            assert image.format == 'JPEG' and image.mode == 'RGB'
            sizes.append(image.size)
    return paths, sizes


def test_make_imagenet_like__decodable_jpegs_with_imagenet_sizes(images):
    paths, sizes = _sizes(images)
    assert len(paths) == 20
    assert all(p.parent.parent == images for p in paths)  # class subfolders
    assert sum(w * h >= 1600 * 1200 for w, h in sizes) == 2  # one in ten
    assert statistics.median(w * h for w, h in sizes) == 500 * 375
    assert (500, 375) in sizes and (375, 500) in sizes
    assert len({p.read_bytes() for p in paths}) == 20  # every image differs


def test_make_imagenet_like__only_size_and_flat(tmp_path):
    make_imagenet_like([str(tmp_path), '--num', '4', '--only-size', '500x375', '--flat'])
    paths, sizes = _sizes(tmp_path)
    assert sizes == [(500, 375)] * 4 and all(p.parent == tmp_path for p in paths)


def test_image_sizes__shares_hold_for_any_count_and_seed_only_shuffles():
    sizes = image_sizes(120, seed=0)
    assert sum(w * h > 10**6 for w, h in sizes) == 12
    assert sorted(sizes) == sorted(image_sizes(120, seed=5)) and sizes != image_sizes(120, 5)


def test_stage_clock__nested_calls_count_only_for_their_own_stage():
    clock = bench.StageClock()
    read = clock.timed('read', lambda: time.sleep(0.02))
    load = clock.timed('load', lambda: (read(), time.sleep(0.01)))
    load()
    assert 0.02 <= clock.seconds['read'] < 0.03 + 0.02
    assert 0.01 <= clock.seconds['load'] < 0.02 + 0.02  # its own 10 ms, not the read


def test_categorize__loading_rest_is_convert_or_crop_when_the_loader_crops():
    stages = {'read': 1.0, 'decode': 3.0, '0:LoadImageSafely': 0.5,
              '1:RandomResizedCrop': 2.0, '2:RandomFlip': 0.5, '3:PackInputs': 0.25}
    assert bench.categorize(stages, '0:LoadImageSafely') == {
        'read': 1.0, 'decode': 3.0, 'convert': 0.5, 'crop+resize': 2.0, 'flip': 0.5,
        'pack': 0.25, 'other': 0.0}
    fused = {'read': 1.0, 'decode': 1.5, '0:LoadRandomResizedCrop': 0.75}
    assert bench.categorize(fused, '0:LoadRandomResizedCrop')['crop+resize'] == 0.75
    official = {'decode': 3.0, 'load': 0.5, '0:RandomResizedCrop': 1.0, '2:ToTensor': 0.5,
                '3:Normalize': 0.5}
    groups = bench.categorize(official, 'load')
    assert groups['read'] is None and groups['convert'] == 0.5 and groups['pack'] == 1.0


def test_time_pipeline__stages_add_up_to_the_time_per_image(tiny_config, images):
    record = bench.time_pipeline('ours', str(tiny_config), str(images), iters=6, warmup=1)
    assert record['error'] is None and record['num_files'] == 20
    groups = record['categories_ms']
    assert all(groups[k] > 0 for k in ('read', 'decode', 'convert', 'crop+resize', 'pack'))
    assert math.isclose(sum(groups.values()), record['ms_per_image'], rel_tol=1e-6)
    assert math.isclose(record['images_per_s'], 1e3 / record['ms_per_image'])


def _in_process_worker(module, argv, failed):
    """run_worker without the fresh process: the worker's record, written and read."""
    out = Path(argv[argv.index('--data') + 1]).parent / 'worker.json'
    assert bench.main([*argv, '--worker-out', str(out)]) == 0
    return json.loads(out.read_text())


def test_main__three_rows_ratios_and_stage_split_json(tiny_config, images, tmp_path,
                                                      monkeypatch, capsys):
    monkeypatch.setattr('mimbench.isolate.run_worker', _in_process_worker)
    out = tmp_path / 'result.json'
    assert bench.main([str(tiny_config), '--data', str(images), '--iters', '4',
                       '--warmup', '1', '--rounds', '2', '--json', str(out)]) == 0
    text = capsys.readouterr().out
    rows = {line.split()[0]: line for line in text.splitlines()
            if line.split() and line.split()[0] in bench.PIPELINES}
    assert set(rows) == {'ours', 'mmpretrain', 'official'}
    (result,) = json.loads(out.read_text())
    for which in ('ours', 'mmpretrain'):
        record = result['pipelines'][which]
        assert record['error'] is None and record['rounds'] == 2, record
        assert len(record['images_per_s_rounds']) == 2
        assert set(record['categories_ms']) == set(bench.CATEGORIES)
        assert record['categories_ms']['read'] > 0 and record['categories_ms']['pack'] > 0
    assert result['ours_over_mmpretrain'] == pytest.approx(
        result['pipelines']['ours']['images_per_s']
        / result['pipelines']['mmpretrain']['images_per_s'])
    official = result['pipelines']['official']
    if bench.official_unavailable(str(images)):
        assert 'official skipped: torchvision' in text and result['ours_over_official'] is None
    else:
        assert official['error'] is None and official['categories_ms']['read'] is None
        assert official['categories_ms']['decode'] > 0 and 'ours / official' in text
    assert result['pipelines']['mmpretrain']['categories_ms']['decode'] > 0  # cv2.imdecode


def test_main__official_row_skipped_with_the_reason_without_torchvision(
        tiny_config, images, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr('mimbench.isolate.run_worker', _in_process_worker)
    real_find_spec = bench.importlib.util.find_spec
    monkeypatch.setattr(bench.importlib.util, 'find_spec',
                        lambda name: None if name == 'torchvision' else real_find_spec(name))
    bench.main([str(tiny_config), '--data', str(images), '--iters', '2', '--warmup', '0',
                '--rounds', '1'])
    assert 'official skipped: torchvision is not installed' in capsys.readouterr().out


def test_benchmark_config__data_time_is_the_batch_fetch_not_the_step(tiny_config,
                                                                     monkeypatch):
    """A collate function that sleeps 50 ms shows in data_time, not in the step."""
    real = benchmark_data.collate_function

    def slow_collate(cfg):
        collate = real(cfg)

        def collate_slowly(samples):
            time.sleep(0.05)
            return collate(samples)
        return collate_slowly

    monkeypatch.setattr(benchmark_data, 'collate_function', slow_collate)
    record = benchmark_config(str(tiny_config), batch_size=2, iters=2, warmup=1,
                              device='cpu', pipeline=True, flops=False)
    assert record['data_time'] >= 0.05 and record['data_time_batches'] == 3
    assert record['data_time_ratio'] == pytest.approx(record['data_time']
                                                      / record['sec_per_iter'])
    photos = benchmark_config(str(tiny_config), batch_size=2, iters=1, warmup=0,
                              device='cpu', flops=False)
    assert photos['data_time'] is None  # no pipeline, nothing fetched


def test_benchmark_pretrain_main__pipeline_json_and_table_have_data_time(
        tiny_config, tmp_path, monkeypatch, capsys):
    """benchmark_pretrain's CLI with --pipeline, its per-config worker run in this
    process (the options it would get, the record it would write)."""
    from mimbench import cli, isolate

    def in_process(config, args):
        out = tmp_path / 'worker.json'
        argv = [config, *isolate.worker_options(args), '--worker-out', str(out)]
        assert cli.main(argv) == 0
        return json.loads(out.read_text())

    monkeypatch.setattr(cli, 'run_isolated', in_process)
    out = tmp_path / 'records.json'
    assert cli.main([str(tiny_config), '--pipeline', '--no-flops', '--batch-size', '2',
                     '--iters', '1', '--device', 'cpu', '--json', str(out)]) == 0
    (record,) = json.loads(out.read_text())
    assert record['data_time'] > 0 and record['data_time_ratio'] > 0
    text = capsys.readouterr().out
    assert 'data s/iter (x step)' in text
    assert f"{record['data_time']:.3f} ({record['data_time_ratio']:.2f}x)" in text


def test_time_pipeline__workers_add_the_dataloader_aggregate(tiny_config, images):
    record = bench.time_pipeline('mmpretrain', str(tiny_config), str(images), iters=4,
                                 warmup=0, workers=2)
    assert record['loader_workers'] == 2 and record['loader_images_per_s'] > 0
