"""GPU-decode mode, run on the CPU (the same code with device='cpu'): the workers' byte
pipeline + GPUDecodePreprocessor give the images of the CPU pipeline (same crops and
flips for the same seed, pixels within a stated PSNR), shapes, dtype and channel order
included; broken files are skipped and named; the config snippet trains."""
import io
from pathlib import Path

import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.dataset import default_collate, pseudo_collate
from mmengine.model import ImgDataPreprocessor
from PIL import Image

from mmmim.datasets import GPUDecodePreprocessor
from mmmim.registry import TRANSFORMS

ROOT = Path(__file__).resolve().parents[2]
SIZE = 64
#: Pillow's decode + bicubic resize vs torchvision's decode_jpeg + torch's antialiased
#: bicubic, both rounded to uint8: on the CPU the lowest PSNR over 10 seeds x 5 images
#: was 55.8 dB at 64 px, 55.0 dB at 224 px; the margin leaves room for nvJPEG's IDCT. A
#: wrong channel order, flip or crop box falls far below.
MIN_PSNR_DB = 40.0
MEAN, STD = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]
CPU_PIPELINE = [dict(type='LoadImageSafely'),
                dict(type='RandomResizedCrop', scale=SIZE, crop_ratio_range=(0.2, 1.0),
                     backend='pillow', interpolation='bicubic'),
                dict(type='RandomFlip', prob=0.5), dict(type='PackInputs')]
BYTES_PIPELINE = [dict(type='LoadImageBytes'),
                  dict(type='DrawResizedCrop', scale=SIZE, crop_ratio_range=(0.2, 1.0)),
                  dict(type='DrawFlip', prob=0.5), dict(type='PackBytes')]


@pytest.fixture(scope='module')
def image_files(tmp_path_factory):
    """Three JPEGs (quality 90, sizes as ImageNet's), a PNG and a CMYK JPEG."""
    from skimage import data
    out = tmp_path_factory.mktemp('gpu_decode')
    files = []
    for name, size in (('astronaut', (500, 375)), ('chelsea', (375, 500)),
                       ('coffee', (320, 240))):
        path = out / f'{name}.jpg'
        Image.fromarray(getattr(data, name)()).resize(size, Image.BICUBIC).save(
            path, quality=90)
        files.append(path)
    rocket = Image.fromarray(data.rocket()).resize((200, 150), Image.BICUBIC)
    rocket.save(out / 'rocket.png')
    rocket.convert('CMYK').save(out / 'rocket_cmyk.jpg', quality=90)
    return files + [out / 'rocket.png', out / 'rocket_cmyk.jpg']


def run_pipeline(steps, paths, seed):
    """Each file through ``steps`` (built with mmmim's registry), numpy seeded once."""
    pipeline = Compose([TRANSFORMS.build(t) for t in steps])
    np.random.seed(seed)
    return [pipeline(dict(img_path=str(p))) for p in paths]


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = (a.double() - b.double()).pow(2).mean().item()
    return float('inf') if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_device_path__same_crops_and_flips_as_cpu_pipeline_within_psnr(image_files, seed):
    """Same numpy seed: the byte pipeline draws the CPU pipeline's flips, and the
    decoded, cropped, resized batch is [B, 3, 64, 64] uint8 BGR within MIN_PSNR_DB of
    the CPU pipeline's images, per image. JPEGs travel as bytes (1-D), the PNG and
    the CMYK JPEG as pixels decoded in the worker ([3, H, W])."""
    from mmmim.datasets.gpu_decode import decode_batch
    cpu = run_pipeline(CPU_PIPELINE, image_files, seed)
    packed = run_pipeline(BYTES_PIPELINE, image_files, seed)
    assert [p['inputs'].dim() for p in packed] == [1, 1, 1, 3, 3]
    batch = pseudo_collate(packed)
    images, kept = decode_batch(batch['inputs'], batch['data_samples'], torch.device('cpu'))
    assert images.shape == (5, 3, SIZE, SIZE) and images.dtype == torch.uint8
    assert [s.flip for s in kept] == [c['data_samples'].flip for c in cpu]
    for image, reference in zip(images, cpu):
        assert reference['inputs'].shape == image.shape
        assert psnr(image, reference['inputs']) >= MIN_PSNR_DB


def test_preprocessor__normalized_batch_matches_img_data_preprocessor(image_files):
    """GPUDecodePreprocessor on the byte batch vs mmengine's ImgDataPreprocessor on the
    CPU pipeline's batch (both bgr_to_rgb, same mean / std): same shape, dtype and
    channel order (RGB), and the de-normalized pixels within MIN_PSNR_DB; a batch of
    already decoded images passes through as ImgDataPreprocessor's."""
    kwargs = dict(mean=MEAN, std=STD, bgr_to_rgb=True)
    ours, stock = GPUDecodePreprocessor(**kwargs), ImgDataPreprocessor(**kwargs)
    reference = stock(default_collate(run_pipeline(CPU_PIPELINE, image_files, 5)))['inputs']
    decoded = ours(pseudo_collate(run_pipeline(BYTES_PIPELINE, image_files, 5)))['inputs']
    assert decoded.shape == reference.shape == (5, 3, SIZE, SIZE)
    assert decoded.dtype == reference.dtype == torch.float32
    std, mean = torch.tensor(STD).view(3, 1, 1), torch.tensor(MEAN).view(3, 1, 1)
    assert psnr(decoded * std + mean, reference * std + mean) >= MIN_PSNR_DB
    plain = default_collate(run_pipeline(CPU_PIPELINE, image_files, 5))
    assert torch.equal(ours(plain)['inputs'], stock(plain)['inputs'])


def test_broken_files__header_skipped_in_worker_body_dropped_on_device(
        image_files, tmp_path, mmengine_log):
    """A file without an image header is skipped by LoadImageBytes and named (as
    LoadImageSafely names it); a JPEG cut after its header decodes nowhere: the
    preprocessor drops it from the batch with a warning naming it."""
    garbage = tmp_path / 'garbage.jpg'
    garbage.write_bytes(b'not an image at all')
    cut = tmp_path / 'cut.jpg'
    data = image_files[0].read_bytes()
    cut.write_bytes(data[:len(data) // 2])
    packed = run_pipeline(BYTES_PIPELINE, [garbage, image_files[1], cut], seed=0)
    assert packed[0] is None
    assert any(f'skipped {garbage}' in m for m in mmengine_log)
    batch = pseudo_collate(packed[1:])
    out = GPUDecodePreprocessor(mean=MEAN, std=STD, bgr_to_rgb=True)(batch)
    assert out['inputs'].shape == (1, 3, SIZE, SIZE)
    assert [s.img_path for s in out['data_samples']] == [str(image_files[1])]
    assert any(f'GPUDecodePreprocessor: skipped {cut}: cannot decode on cpu' in m
               for m in mmengine_log)


def test_gpu_decode_config__one_tiny_training_iteration_on_cpu(image_files, tmp_path):
    """configs/_base_/datasets/imagenet_pretrain_gpu_decode.py's pipeline, collate and
    preprocessor on the engine tests' tiny demo model: an epoch of two iterations (its
    scheduler needs two) trains, finite losses, on four of the images, each once."""
    import sys
    sys.path.insert(0, str(ROOT / 'tests' / 'test_engine'))
    from engine_doubles import TestRecordHook
    from engine_runs import run, tiny_demo_cfg
    images = tmp_path / 'images'
    images.mkdir()
    for path in image_files[:3] + image_files[4:]:
        (images / path.name).write_bytes(path.read_bytes())
    snippet = Config.fromfile(str(ROOT / 'configs/_base_/datasets/'
                                         'imagenet_pretrain_gpu_decode.py'))
    pipeline = snippet.train_dataloader.dataset.pipeline
    pipeline[1].scale = 32
    cfg = tiny_demo_cfg(images, tmp_path / 'work', batch_size=2, max_epochs=1, **{
        'train_dataloader.collate_fn': snippet.train_dataloader.collate_fn,
        'model.data_preprocessor.type': 'GPUDecodePreprocessor',
        'custom_imports': snippet.custom_imports})
    cfg.train_dataloader.dataset.pipeline = pipeline
    record = TestRecordHook()
    run(cfg, [record])
    assert len(record.records) == 2
    assert all(np.isfinite(r['loss']) for r in record.records)
    assert sorted(p for r in record.records for p in r['paths']) == \
        sorted(p.name for p in images.iterdir())


def test_load_image_bytes__reads_tar_shard_members(image_files, tmp_path):
    """The byte loader reads through mmengine's fileio, so shard members work as files:
    the same bytes and header size."""
    import json
    import sys
    sys.path.insert(0, str(ROOT / 'tools' / 'dataset_converters'))
    import make_shards
    src = tmp_path / 'src'
    src.mkdir()
    (src / 'a.jpg').write_bytes(image_files[0].read_bytes())
    make_shards.main([str(src), str(tmp_path / 'out'), '--shard-size', '4'])
    assert json.loads((tmp_path / 'out' / 'index.json').read_text())['num_samples'] == 1
    from mmmim.datasets import TarShardDataset
    dataset = TarShardDataset(data_root=str(tmp_path / 'out'), pipeline=BYTES_PIPELINE[:1])
    result = dataset[0]
    assert result['img_bytes'] == image_files[0].read_bytes()
    assert result['ori_shape'] == Image.open(io.BytesIO(result['img_bytes'])).size[::-1]


def test_gpu_check_decode_line__probe_measures_on_cpu_and_line_skips_without_cuda(
        image_files, tmp_path):
    """tools/gpu_check's GPU-decode line: its probe (the device side on a batch)
    measures on the CPU here; without CUDA the line is skipped as 'needs GPU'."""
    import sys
    sys.path.insert(0, str(ROOT / 'tools'))
    from gpucheck import host
    from gpucheck.context import Context, probe
    from gpucheck.report import NEEDS_GPU
    ctx = Context(str(tmp_path), python=sys.executable)
    record, proc = probe(ctx, 'gpu_decode', 120, '--batch', '8', '--iters', '1',
                         '--device', 'cpu', '--data', str(image_files[0].parent))
    assert record is not None, proc.tail
    assert record['output'] == [8, 3, 224, 224] and record['images_per_s'] > 0
    ctx.cuda = False
    [row] = host.gpu_decode(ctx)
    assert (row.status, row.note) == ('skip', NEEDS_GPU)
