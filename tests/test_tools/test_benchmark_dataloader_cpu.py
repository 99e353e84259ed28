"""benchmark_dataloader's per-CPU-second figures: every run records images per
CPU-second of its process beside the wall-clock images/s, and the report gives ours'
ratio to each other pipeline on both clocks (a skipped pipeline has no ratio)."""
from test_tools.test_benchmark_dataloader import images, tiny_config  # noqa: F401

from mimbench import dataloader as bench


def record(which: str, wall: float, cpu: float) -> dict:
    return dict(pipeline=which, error=None, images_per_s=wall, images_per_cpu_s=cpu,
                ms_per_image=1e3 / wall,
                categories_ms=dict.fromkeys(bench.CATEGORIES, 1.0))


def test_ratios__ours_over_each_other_pipeline_on_the_key_none_when_skipped():
    records = {'ours': record('ours', 300, 600), 'mmpretrain': record('mmpretrain', 150, 400),
               'official': bench.skipped('official', 'c.py', 'no torchvision')}
    assert bench.ratios(records, 'images_per_s') == {'ours_over_mmpretrain': 2.0,
                                                     'ours_over_official': None}
    assert bench.ratios(records, 'images_per_cpu_s')['ours_over_mmpretrain'] == 1.5


def test_time_pipeline__cpu_rate_recorded_and_reported(tiny_config, images):  # noqa: F811
    runs = {which: bench.time_pipeline(which, str(tiny_config), str(images), iters=4,
                                       warmup=1) for which in ('ours', 'mmpretrain')}
    assert all(r['images_per_cpu_s'] > 0 for r in runs.values())
    records = {which: bench.median_record([r]) for which, r in runs.items()}
    records['official'] = bench.skipped('official', 'c.py', 'no torchvision')
    result = dict(config='c.py', iters=4, rounds=1, workers=1, pipelines=records,
                  **bench.ratios(records, 'images_per_s'),
                  per_cpu_s=bench.ratios(records, 'images_per_cpu_s'))
    (line,) = [x for x in bench.format_report(result).splitlines()
               if x.startswith('per CPU-second')]
    cpu_ratio = result['per_cpu_s']['ours_over_mmpretrain']
    assert f'ours / mmpretrain {cpu_ratio:.2f}x' in line and 'official' not in line
