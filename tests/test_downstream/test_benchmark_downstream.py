"""tools/analysis_tools/benchmark_downstream.py: times training iterations of a
downstream config on batches its own dataloader makes from the tiny data."""
from harness import ROOT
from tiny_detection import tiny_coco_cfg

from mimbench.downstream import benchmark_downstream, describe

SWIN_T_1X = ROOT / 'configs/benchmarks/mmdetection/coco/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py'


def test_benchmark_downstream__times_train_steps_of_a_mask_rcnn_config(tiny_coco, tmp_path):
    config = tmp_path / 'tiny_mask_rcnn.py'
    tiny_coco_cfg(SWIN_T_1X, 'unused', tiny_coco, tmp_path).dump(str(config))
    record = benchmark_downstream(str(config), batch_size=2, iters=1, warmup=1)
    assert record['error'] is None and record['model'] == 'MaskRCNN'
    assert record['backbone'] == 'SwinTransformer'
    assert record['sec_per_iter'] > 0 and record['peak_mem_mb'] > 0
    assert record['loss'] == record['loss']  # finite-ish: not NaN
    h, w = record['first_image_size']
    assert 32 <= min(h, w) and max(h, w) <= 160  # the tiny config's scaled pipeline
    assert 's/iter' in describe(record)
