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


def test_mmpretrain_row__pixmim_configs_get_mmpretrains_conservative_crop(images):  # noqa: F811
    from mmengine.config import Config
    root = bench.Path(__file__).parents[2] / 'configs'
    pixmim = Config.fromfile(str(root / 'pixmim/pixmim_vit-base-p16_8xb512-amp-coslr-300e_in1k.py'))
    mae = Config.fromfile(str(root / 'mae/mae_vit-base-p16_8xb512-amp-coslr-400e_in1k.py'))
    assert bench.conservative_crop(pixmim) and not bench.conservative_crop(mae)
    transforms = bench.mmpretrain_transforms(32, conservative=True)
    names = bench.stage_names(transforms)
    assert names[2:4] == ['2:Resize', '3:RandomCrop'] and transforms[3].t.padding == 4
    results = {'img_path': str(next(images.rglob('*.JPEG')))}
    for transform in transforms:
        results = transform(results)
    assert tuple(results['inputs'].shape) == (3, 32, 32)
