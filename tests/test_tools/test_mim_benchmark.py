"""End to end: ``mim_dist_train.sh`` runs a tiny linear probe on CPU (GPUS=1, gloo)
from a raw mmmim pretraining checkpoint on real labeled images (scikit-learn's
digits as an ImageNet-style folder), and the log shows the load report."""
import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.registry import init_default_scope

ROOT = Path(__file__).resolve().parents[2]
LINEAR = ROOT / 'configs/benchmarks/classification/imagenet/' \
    'vit-base-p16_8xb2048-linear-lars-coslr-90e_in1k.py'
TINY = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)

TINY_PROBE = """
_base_ = ['{base}']
data_root = '{data}'
model = dict(
    data_preprocessor=dict(num_classes=10, mean=[127.5] * 3, std=[127.5] * 3),
    backbone=dict(arch=dict(_delete_=True, **{arch}), img_size=32, patch_size=4, frozen_stages=2),
    neck=dict(input_features=32),
    head=dict(num_classes=10, in_channels=32))
pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
train_dataloader = dict(batch_size=200, num_workers=0, persistent_workers=False,
    dataset=dict(_delete_=True, type='CustomDataset', data_root=data_root,
                 data_prefix='train', pipeline=pipeline))
val_dataloader = dict(batch_size=300, num_workers=0, persistent_workers=False,
    dataset=dict(_delete_=True, type='CustomDataset', data_root=data_root,
                 data_prefix='val', pipeline=pipeline))
test_dataloader = val_dataloader
optim_wrapper = dict(optimizer=dict(lr=0.1 * 200 / 256))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=2, by_epoch=True, begin=0, end=2,
                        convert_to_iter_based=True)]
train_cfg = dict(max_epochs=2, val_interval=2)
default_hooks = dict(logger=dict(interval=2), checkpoint=dict(interval=2))
custom_hooks = []
"""


def digits_tool():
    path = ROOT / 'tools/dataset_converters/make_digits_folder.py'
    spec = importlib.util.spec_from_file_location('make_digits_folder', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def tiny_pretraining_checkpoint(path: Path) -> None:
    """A raw mmmim MAE checkpoint (``encoder.*``, ``decoder.*``...) after a few
    pretraining steps on real photographs."""
    from photos import photo_tensor

    import mmmim.models  # noqa: F401
    from mmmim.registry import MODELS
    init_default_scope('mmmim')
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='MaskedImageModel', masker=dict(type='RandomMasker', ratio=0.75, unit_size=4),
        encoder=dict(type='MaskedViT', arch=TINY, img_size=32, patch_size=4),
        decoder=dict(type='MAEDecoder', dims=32, depth=1, num_heads=2),
        target=dict(type='PixelTarget', patch_size=4)))
    model.init_weights()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    images = photo_tensor(32)
    for _ in range(3):
        loss = model(images, mode='loss')['loss']
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    torch.save({'state_dict': model.state_dict(), 'meta': {'iter': 3}}, path)


@pytest.mark.skipif(not (ROOT / 'tools/train.py').exists(), reason='needs tools/train.py')
def test_mim_dist_train__tiny_linear_probe_on_cpu_logs_the_load_report(tmp_path):
    data = tmp_path / 'digits'
    counts = digits_tool().write_digits_folder(str(data))
    assert counts == {'train': 1198, 'val': 599}
    checkpoint = tmp_path / 'pretrain.pth'
    tiny_pretraining_checkpoint(checkpoint)
    config = tmp_path / 'tiny_probe.py'
    config.write_text(TINY_PROBE.format(base=LINEAR, data=data, arch=TINY))
    work_dir = tmp_path / 'work'
    env = dict(os.environ, GPUS='1', PORT=str(free_port()), PYTHON=sys.executable,
               OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='')
    run = subprocess.run(
        ['bash', str(ROOT / 'tools/benchmarks/classification/mim_dist_train.sh'),
         str(config), str(checkpoint), '--work-dir', str(work_dir)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    log = next(work_dir.glob('*/*.log')).read_text()
    assert '[vit->mmpretrain] load report into VisionTransformer' in log
    assert 'mmmim pretraining checkpoint (encoder.*)' in log
    assert 'status: OK, backbone fully loaded' in log
    assert 'decoder (pretraining only)' in log
    assert 'accuracy/top1' in log


def test_mim_dist_train__missing_checkpoint_is_refused(tmp_path):
    run = subprocess.run(['bash', str(ROOT / 'tools/benchmarks/classification/mim_dist_train.sh'),
                          str(LINEAR), str(tmp_path / 'nope.pth')],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and 'no checkpoint' in run.stderr


BENCHMARK_CONFIGS = sorted(p for p in (ROOT / 'configs/benchmarks/classification').rglob('*.py')
                           if '_base_' not in p.parts)


TINY_SWIN = dict(embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 2, 2, 4])
TINY_PVT = dict(embed_dims=8, num_layers=[1, 1, 1, 1], num_heads=[1, 2, 2, 4])
# backbone type -> (tiny backbone override, tiny encoder to pretrain, input size,
#                   feature width, number of decay depths)
TINY_BACKBONES = {
    'VisionTransformer': (dict(arch=dict(TINY), img_size=32, patch_size=4),
                          dict(type='MaskedViT', arch=TINY, img_size=32, patch_size=4),
                          32, TINY['embed_dims'], TINY['num_layers'] + 2),
    'SwinTransformer': (dict(arch=dict(TINY_SWIN), img_size=64,
                             stage_cfgs=[dict(window_size=w) for w in (4, 4, 4, 2)]),
                        dict(type='MaskedSwin', arch=TINY_SWIN, img_size=64, window_size=4),
                        64, 128, 4 + 2),
    'PyramidVisionTransformer': (dict(TINY_PVT, pretrain_img_size=64),
                                 dict(type='MaskedPVT', pretrain_img_size=64, **TINY_PVT),
                                 64, 32, 4 + 2),
}
TINY_BACKBONES['MaskedPVT'] = TINY_BACKBONES['PyramidVisionTransformer']  # our PVT classifier


def tiny_encoder_checkpoint(encoder_cfg: dict, path: Path) -> None:
    """A raw pretraining checkpoint of a tiny encoder (``encoder.*`` + a decoder)."""
    import mmmim.models  # noqa: F401
    from mmmim.registry import MODELS
    init_default_scope('mmmim')
    torch.manual_seed(0)
    encoder = MODELS.build(encoder_cfg)
    encoder.init_weights()
    state = {f'encoder.{k}': v for k, v in encoder.state_dict().items()}
    state['decoder.proj.weight'] = torch.zeros(2, 2)
    torch.save({'state_dict': state}, path)


def tiny_classifier_cfg(path: Path, checkpoint: Path):
    """The config's model with a tiny backbone of its family, pointing at a tiny
    pretraining checkpoint of that family. Returns (cfg, model cfg, input size,
    number of layer-decay depths)."""
    from mmengine.config import Config
    cfg = Config.fromfile(str(path))
    model = cfg.model.to_dict()
    backbone = model['backbone']
    override, encoder, size, width, depths = TINY_BACKBONES[backbone['type'].split('.')[-1]]
    backbone.update(override)
    tiny_encoder_checkpoint(encoder, checkpoint)
    model['init_cfg']['checkpoint'] = str(checkpoint)
    if backbone.get('frozen_stages', -1) > 0:
        backbone['frozen_stages'] = TINY['num_layers']
    if model.get('neck') and 'input_features' in model['neck']:
        model['neck']['input_features'] = width
    model['head'].update(num_classes=10, in_channels=width)
    model['data_preprocessor']['num_classes'] = 10
    return cfg, model, size, depths


def test_benchmark_configs__all_found():
    names = {p.name for p in BENCHMARK_CONFIGS}
    assert {'vit-base-p16_8xb2048-linear-lars-coslr-90e_in1k.py',
            'vit-base-p16_8xb128-ft-ld0.65-coslr-100e_in1k.py',
            'vit-base-p16_8xb128-ft-ld0.8-coslr-100e_in1k.py',
            'swin-tiny-w16_8xb128-ft-ld0.85-coslr-100e_in1k-256px.py',
            'swin-base-w7_8xb256-ft-ld0.9-coslr-100e_in1k.py',
            'swin-large-w16_8xb128-ft-ld0.7-coslr-100e_in1k-256px.py'} <= names


@pytest.mark.parametrize('path', BENCHMARK_CONFIGS, ids=[p.name for p in BENCHMARK_CONFIGS])
def test_benchmark_config__loads_pretrained_trains_the_right_params(path, tmp_path):
    """Tiny override: the backbone loads through MIMPretrained, the loss is finite,
    a linear probe trains only neck + head (backbone frozen) and a fine-tune trains
    everything with layer-wise decayed lrs."""
    import mmdet.models  # noqa: F401  (PVT)
    import mmpretrain.engine  # noqa: F401  (LARS)
    from mmengine.optim import build_optim_wrapper
    from mmpretrain.structures import DataSample
    from photos import photo_tensor

    import mmmim.converters  # noqa: F401
    import mmmim.engine  # noqa: F401
    from mmmim.registry import MODELS
    cfg, model_cfg, size, depths = tiny_classifier_cfg(path, tmp_path / 'pretrain.pth')
    init_default_scope(cfg.get('default_scope', 'mmmim'))
    model = MODELS.build(model_cfg)
    model.init_weights()
    assert model.backbone.init_cfg.get('loaded_by') == 'MIMPretrained'
    model.train()
    samples = [DataSample().set_gt_label(i) for i in range(4)]
    data = model.data_preprocessor(dict(inputs=list((photo_tensor(size) * 60 + 120).byte()),
                                        data_samples=samples), training=True)
    loss = model(**data, mode='loss')['loss']
    assert torch.isfinite(loss)
    loss.backward()
    frozen = model_cfg['backbone'].get('frozen_stages', -1) > 0
    for name, p in model.named_parameters():
        if name.startswith('backbone.') and frozen:
            assert p.grad is None, name
        elif p.requires_grad:
            assert p.grad is not None, name
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    lrs = sorted({g['lr'] for g in optim.optimizer.param_groups})
    rate = cfg.optim_wrapper.get('paramwise_cfg', {}).get('layer_decay_rate')
    if rate:
        assert len(lrs) == depths
        assert lrs[0] == pytest.approx(lrs[-1] * rate ** (depths - 1))
