"""tools/benchmarks/{mmdetection,mmsegmentation}/*.sh: what they start, and a real
end-to-end CPU run (GPUS=1, gloo): mim_dist_train.sh trains a tiny Mask R-CNN Swin-T
from a raw mmmim pretraining checkpoint (the load report in the log), then
mim_dist_test.sh evaluates the checkpoint it wrote (COCO bbox + segm AP)."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from harness import ROOT
from tiny_detection import tiny_coco_cfg

BENCH = ROOT / 'tools/benchmarks'
SWIN_T_1X = ROOT / 'configs/benchmarks/mmdetection/coco/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py'
LIBRARIES = ('mmdetection', 'mmsegmentation')


def fake_program(path: Path, log: Path) -> Path:
    """An executable that writes its arguments (one a line) to ``log``."""
    path.write_text(f'#!/usr/bin/env bash\nprintf "%s\\n" "$@" > {log}\n')
    path.chmod(0o755)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.mark.parametrize('library', LIBRARIES)
def test_mim_dist_train_and_test__torchrun_our_entries_with_the_pretrain_options(
        library, tmp_path):
    python = fake_program(tmp_path / 'python', tmp_path / 'args')
    (tmp_path / 'ckpt.pth').write_bytes(b'x')
    env = dict(os.environ, PYTHON=str(python), GPUS='4', NNODES='2', NODE_RANK='1',
               MASTER_ADDR='10.0.0.1', PORT='29999')
    subprocess.run(['bash', BENCH / library / 'mim_dist_train.sh', 'cfg.py',
                    tmp_path / 'ckpt.pth', '--cfg-options', 'a=1'], env=env, check=True)
    args = (tmp_path / 'args').read_text().split('\n')[:-1]
    assert args[:2] == ['-m', 'torch.distributed.run']
    for expected in ('--nnodes=2', '--node_rank=1', '--master_addr=10.0.0.1',
                     '--master_port=29999', '--nproc_per_node=4'):
        assert expected in args
    start = args.index(str(ROOT / 'tools/train.py'))
    assert args[start:] == [str(ROOT / 'tools/train.py'), 'cfg.py', '--launcher', 'pytorch',
                            '--cfg-options', 'model.init_cfg.type=MIMPretrained',
                            f'model.init_cfg.checkpoint={tmp_path / "ckpt.pth"}',
                            'model.init_cfg.submodule=backbone', 'a=1']
    subprocess.run(['bash', BENCH / library / 'mim_dist_test.sh', 'cfg.py',
                    tmp_path / 'ckpt.pth', '--out', 'm.json'], env=env, check=True)
    args = (tmp_path / 'args').read_text().split('\n')[:-1]
    start = args.index(str(ROOT / 'tools/test.py'))
    assert args[start:] == [str(ROOT / 'tools/test.py'), 'cfg.py', str(tmp_path / 'ckpt.pth'),
                            '--launcher', 'pytorch', '--out', 'm.json']


@pytest.mark.parametrize('library', LIBRARIES)
def test_mim_slurm_train__srun_with_the_pretrain_options(library, tmp_path):
    fake_program(tmp_path / 'srun', tmp_path / 'args')
    (tmp_path / 'ckpt.pth').write_bytes(b'x')
    env = dict(os.environ, PATH=f'{tmp_path}:{os.environ["PATH"]}', PYTHON='/opt/py',
               GPUS='16', SRUN_ARGS='--qos=high')
    subprocess.run(['bash', BENCH / library / 'mim_slurm_train.sh', 'gpu', 'cfg.py',
                    tmp_path / 'ckpt.pth'], env=env, check=True)
    args = (tmp_path / 'args').read_text().split('\n')[:-1]
    for expected in ('-p', 'gpu', '--job-name=cfg', '--gres=gpu:8', '--ntasks=16',
                     '--ntasks-per-node=8', '--cpus-per-task=10', '--qos=high'):
        assert expected in args
    start = args.index('/opt/py')
    assert args[start:start + 5] == ['/opt/py', '-u', str(ROOT / 'tools/train.py'), 'cfg.py',
                                     '--launcher=slurm']
    assert f'model.init_cfg.checkpoint={tmp_path / "ckpt.pth"}' in args


@pytest.mark.parametrize('script', ['mim_dist_train.sh', 'mim_dist_test.sh'])
def test_launchers__missing_checkpoint_is_refused(script, tmp_path):
    run = subprocess.run(['bash', BENCH / 'mmdetection' / script, 'cfg.py',
                          tmp_path / 'nope.pth'], capture_output=True, text=True)
    assert run.returncode == 2 and 'no checkpoint' in run.stderr


def test_mmdetection_launchers__train_then_test_tiny_mask_rcnn_on_cpu(
        tiny_coco, pretraining_checkpoint, tmp_path):
    cfg = tiny_coco_cfg(SWIN_T_1X, 'set-by-the-launcher', tiny_coco, tmp_path / 'unused',
                        save_checkpoint=True)
    config = tmp_path / 'tiny_mask_rcnn.py'
    cfg.dump(str(config))
    env = dict(os.environ, GPUS='1', PORT=str(free_port()), PYTHON=sys.executable,
               OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='')
    work = tmp_path / 'train'
    run = subprocess.run(['bash', BENCH / 'mmdetection/mim_dist_train.sh', config,
                          pretraining_checkpoint('swin'), '--work-dir', work],
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    log = next(work.glob('*/*.log')).read_text()
    assert '[swin->mmdet] load report into SwinTransformer' in log
    assert 'status: OK, backbone fully loaded' in log
    assert 'coco/segm_mAP' in log
    assert 'effective batch 2 = 2 per process x 1 processes' in log  # batch sampler

    env['PORT'] = str(free_port())
    out = tmp_path / 'metrics.json'
    run = subprocess.run(['bash', BENCH / 'mmdetection/mim_dist_test.sh', config,
                          work / 'iter_2.pth', '--work-dir', tmp_path / 'test', '--out', out],
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    metrics = json.loads(out.read_text())
    assert {'coco/bbox_mAP', 'coco/segm_mAP'} <= set(metrics)
    assert all(0 <= metrics[k] <= 1 for k in ('coco/bbox_mAP', 'coco/segm_mAP'))
