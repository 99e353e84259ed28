"""The fused load + crop transforms show the model what the old pipeline did: the crop
distribution is torchvision's RandomResizedCrop (and PixMIM's conservative crop as
defined), a reduced-scale decode is within 35 dB PSNR of the full decode at the same box
(measured: 41 dB worst, 50 dB median on the bundled photographs), the no-reduction path
is the old pipeline's pixels, and bad files are converted or skipped as by
LoadImageSafely."""
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from mmpretrain.datasets.transforms import RandomResizedCrop
from PIL import Image
from scipy.stats import chisquare, ks_2samp
from skimage import data
from test_datasets.test_load_image_safely import BROKEN, make_broken

from mmmim.datasets import (
    ConservativeCrop,
    ImageLoadError,
    LoadAndConservativeCrop,
    LoadAndRandomResizedCrop,
    LoadImageSafely,
)
from mmmim.datasets.decode import decode_rgb_scaled
from mmmim.datasets.resize import draft_factor
from mmmim.registry import TRANSFORMS

W, H, DRAWS = 500, 375, 20000
COLOUR_PHOTOS = ('astronaut', 'chelsea', 'coffee', 'rocket')


def crop_stats(boxes: np.ndarray, width: int = W, height: int = H) -> dict:
    """Scale, log aspect ratio and relative centre of ``[N, 4]`` (x, y, w, h) boxes."""
    x, y, w, h = boxes.T.astype(float)
    return {'scale': w * h / (width * height), 'log_ratio': np.log(w / h),
            'centre_x': (x + w / 2) / width, 'centre_y': (y + h / 2) / height}


def torchvision_boxes(scale: tuple, n: int = DRAWS) -> np.ndarray:
    from torchvision.transforms import RandomResizedCrop as TVCrop
    torch.manual_seed(0)
    img = torch.empty(3, H, W)
    out = [TVCrop.get_params(img, scale, (3 / 4, 4 / 3)) for _ in range(n)]
    return np.array([(j, i, w, h) for i, j, h, w in out])


def fused_boxes(scale: tuple, n: int = DRAWS) -> np.ndarray:
    np.random.seed(1)
    crop = LoadAndRandomResizedCrop(224, scale)
    boxes = [crop.plan((W, H))[0][1] for _ in range(n)]     # (x0, y0, x1, y1)
    return np.array([(x0, y0, x1 - x0, y1 - y0) for x0, y0, x1, y1 in boxes])


def test_crop_distribution__matches_torchvision_and_a_wrong_scale_range_fails():
    ours, wrong = crop_stats(fused_boxes((0.2, 1.0))), crop_stats(fused_boxes((0.08, 1.0)))
    reference = crop_stats(torchvision_boxes((0.2, 1.0)))
    for key in reference:
        assert ks_2samp(ours[key], reference[key]).pvalue > 1e-3, key
    assert ks_2samp(wrong['scale'], reference['scale']).pvalue < 1e-12


def test_crop_draws__are_mmpretrain_random_resized_crops_draws():
    fused, old = LoadAndRandomResizedCrop(224, (0.2, 1.0)), RandomResizedCrop(224, (0.2, 1.0))
    for seed in range(50):
        np.random.seed(seed)
        x0, y0, x1, y1 = fused.plan((W, H))[0][1]
        np.random.seed(seed)
        assert old.rand_crop_params(np.empty((H, W, 3))) == (y0, x0, y1 - y0, x1 - x0)


def write_jpeg(path: Path, name: str, size: tuple, mode: str = 'RGB') -> Path:
    """A bundled photograph resized to ``size`` (w, h), saved as JPEG quality 90."""
    image = Image.fromarray(getattr(data, name)()).convert('RGB')
    image.resize(size, Image.BICUBIC).convert(mode).save(path, quality=90)
    return path


def test_conservative_crop_offsets__uniform_over_the_padded_image_as_defined(tmp_path):
    path = write_jpeg(tmp_path / 'a.jpg', 'astronaut', (640, 480))
    crop = LoadAndConservativeCrop(224, padding=4)
    rgb, planned, scale = decode_rgb_scaled(path.read_bytes(), crop.plan)
    assert scale == 0.5                    # decoded at 320 x 240
    np.random.seed(0)
    corners = np.array([crop.finish(rgb, planned, scale)[1]['crop_bbox'][:2]
                        for _ in range(3000)])
    support = (299 + 2 * 4 - 224 + 1, 2 * 4 + 1)   # resized 299 x 224, padded by 4
    for axis, n in enumerate(support):
        counts = np.bincount(corners[:, axis], minlength=n)
        assert len(counts) == n and chisquare(counts).pvalue > 1e-3, axis
    no_padding = np.bincount(np.random.randint(0, 299 - 224 + 1, 3000), minlength=support[0])
    assert chisquare(no_padding).pvalue < 1e-12     # the definition's test can fail


def test_conservative_crop__fused_draws_and_pixels_are_conservative_crops(tmp_path):
    path = write_jpeg(tmp_path / 'c.jpg', 'chelsea', (451, 300))
    fused = LoadAndConservativeCrop(224, 4, resize_backend='pillow')
    old, load = ConservativeCrop(224, 4), LoadImageSafely()
    for seed in range(5):
        np.random.seed(seed)
        ours = fused({'img_path': str(path)})
        np.random.seed(seed)
        theirs = old(load({'img_path': str(path)}))
        assert ours['crop_bbox'] == theirs['crop_bbox']
        np.testing.assert_array_equal(ours['img'], theirs['img'])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b) ** 2)
    return math.inf if mse == 0 else 10 * math.log10(255 ** 2 / mse)


@pytest.mark.parametrize('size', [(1024, 768), (2400, 1800)])
def test_reduced_decode__within_35db_of_the_full_decode_at_the_same_box(tmp_path, size):
    fast = LoadAndRandomResizedCrop(224, (0.2, 1.0))
    full = LoadAndRandomResizedCrop(224, (0.2, 1.0), reduce=False, resize_backend='pillow')
    reduced = []
    for name in COLOUR_PHOTOS:
        path = str(write_jpeg(tmp_path / f'{name}.jpg', name, size))
        for seed in range(4):
            np.random.seed(seed)
            factor = fast.plan(size)[1]
            np.random.seed(seed)
            a = fast({'img_path': path})['img']
            np.random.seed(seed)
            b = full({'img_path': path})['img']
            if factor > 1:
                reduced.append(psnr(a, b))
    assert len(reduced) >= 4 and min(reduced) >= 35, reduced


def test_reduced_decode__pixmim_within_32db_of_the_full_decode(tmp_path):
    fast, full = LoadAndConservativeCrop(), LoadAndConservativeCrop(reduce=False,
                                                                    resize_backend='pillow')
    for name in COLOUR_PHOTOS:
        path = str(write_jpeg(tmp_path / f'{name}.jpg', name, (1600, 1200)))  # 4x
        np.random.seed(0)
        a = fast({'img_path': path})['img']
        np.random.seed(0)
        assert psnr(a, full({'img_path': path})['img']) >= 32, name


def test_draft_factor__largest_reduction_keeping_the_crop_at_output_size():
    assert draft_factor((447, 1000), (224, 224)) == 1
    assert draft_factor((448, 448), (224, 224)) == 2
    assert draft_factor((1000, 900), (224, 224)) == 4
    assert draft_factor((4000, 3000), (224, 224)) == 8


def old_pipeline(path: Path, seed: int, scale: tuple = (0.2, 1.0)) -> np.ndarray:
    np.random.seed(seed)
    loaded = LoadImageSafely()({'img_path': str(path)})
    return RandomResizedCrop(224, scale, backend='pillow',
                             interpolation='bicubic')(loaded)['img']


def fused_pipeline(path: Path, seed: int, backend: str = 'pillow',
                   scale: tuple = (0.2, 1.0)) -> np.ndarray:
    np.random.seed(seed)
    fused = LoadAndRandomResizedCrop(224, scale, resize_backend=backend)
    return fused({'img_path': str(path)})['img']


def converted_files(tmp_path: Path) -> dict:
    """Files LoadImageSafely converts: CMYK / grayscale / EXIF-rotated JPEG, 16-bit,
    RGBA and palette PNG, all made from real photographs."""
    chelsea, camera = data.chelsea(), data.camera()
    files = {'rgb_jpeg': write_jpeg(tmp_path / 'rgb.jpg', 'chelsea', (451, 300)),
             'cmyk_jpeg': write_jpeg(tmp_path / 'cmyk.jpg', 'chelsea', (451, 300), 'CMYK'),
             'gray_jpeg': write_jpeg(tmp_path / 'gray.jpg', 'chelsea', (451, 300), 'L')}
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(chelsea).save(tmp_path / 'rot.jpg', exif=exif, quality=90)
    Image.fromarray((camera.astype(np.uint16) * 257)).save(tmp_path / 'gray16.png')
    alpha = np.where(np.arange(451) < 200, 0, 255).astype(np.uint8)[None].repeat(300, 0)
    Image.fromarray(np.dstack([chelsea, alpha])).save(tmp_path / 'rgba.png')
    Image.fromarray(chelsea).quantize(64).save(tmp_path / 'palette.png')
    files.update({k: tmp_path / f for k, f in [('exif_rotated', 'rot.jpg'),
                  ('gray16_png', 'gray16.png'), ('rgba_png', 'rgba.png'),
                  ('palette_png', 'palette.png')]})
    return files


def test_no_reduction__old_pipelines_pixels_dtype_shape_and_bgr_order(tmp_path):
    for kind, path in converted_files(tmp_path).items():
        for seed in range(3):
            old = old_pipeline(path, seed)
            ours = fused_pipeline(path, seed)
            assert ours.dtype == old.dtype == np.uint8 and ours.shape == old.shape, kind
            np.testing.assert_array_equal(ours, old, err_msg=kind)
            assert psnr(fused_pipeline(path, seed, backend='torch'), old) >= 45, kind


def test_reduced_cmyk_and_gray_jpegs__converted_as_the_full_decode(tmp_path):
    for mode in ('CMYK', 'L'):
        path = write_jpeg(tmp_path / f'{mode}.jpg', 'astronaut', (1600, 1200), mode)
        np.random.seed(0)
        assert LoadAndRandomResizedCrop(224, (0.9, 1.0)).plan((1600, 1200))[1] == 4
        ours = fused_pipeline(path, 0, 'torch', (0.9, 1.0))
        assert psnr(ours, old_pipeline(path, 0, (0.9, 1.0))) >= 35, mode


@pytest.mark.parametrize('transform', ['LoadAndRandomResizedCrop', 'LoadAndConservativeCrop'])
@pytest.mark.parametrize('kind', list(BROKEN))
def test_broken_file__skipped_and_named_or_raised_as_by_load_image_safely(
        kind, transform, tmp_path, mmengine_log):
    path = make_broken(kind, tmp_path, data.chelsea())
    args = dict(scale=224) if transform == 'LoadAndRandomResizedCrop' else {}
    loader = TRANSFORMS.build(dict(type=transform, max_pixels=10_000_000, **args))
    assert loader({'img_path': str(path)}) is None
    assert loader.skipped.count == loader.skipped.total == 1
    warning = next(m for m in mmengine_log if str(path) in m)
    assert BROKEN[kind][2] in warning and '1 skipped so far in this process' in warning
    raising = TRANSFORMS.build(dict(type=transform, max_pixels=10_000_000, on_error='raise',
                                    **args))
    with pytest.raises(ImageLoadError, match=re.escape(BROKEN[kind][2])) as info:
        raising({'img_path': str(path)})
    assert str(path) in str(info.value)


def test_fused_transforms__reject_options_they_cannot_honour():
    with pytest.raises(ValueError, match='cache_images'):
        LoadAndRandomResizedCrop(224, cache_images=8)
    with pytest.raises(ValueError, match='resize_backend'):
        LoadAndConservativeCrop(resize_backend='cv2')


@pytest.mark.parametrize('config, size', [
    ('mae/mae_vit-base-p16_8xb512-amp-coslr-400e_in1k.py', 224),
    ('pixmim/pixmim_ummae_swin-tiny-w8_8xb512-amp-coslr-200e_in1k-256px.py', 256)])
def test_pretraining_configs__fused_pipeline_gives_crop_size_bgr_and_counts_skips(
        config, size, demo_images_dir, tmp_path):
    from mmengine.config import Config

    from mmmim.datasets import ImageFolder
    cfg = Config.fromfile(str(Path(__file__).parents[2] / 'configs' / config))
    pipeline = cfg.train_dataloader.dataset.pipeline
    assert pipeline[0]['type'].startswith('LoadAnd')
    for photo in sorted(demo_images_dir.iterdir())[:3]:
        (tmp_path / photo.name).symlink_to(photo)
    make_broken('truncated_jpeg', tmp_path, data.chelsea())
    dataset = ImageFolder(data_root=str(tmp_path), pipeline=pipeline)
    np.random.seed(0)
    inputs = [dataset[i]['inputs'] for i in range(len(dataset))]
    assert all(x.shape == (3, size, size) and x.dtype == torch.uint8 for x in inputs)
    assert sum(record.count for record in dataset.skipped_images) >= 1


@pytest.mark.parametrize('hw', [(224, 299), (336, 224), (224, 224)])
def test_conservative_pad_and_crop__padding_only_the_crop_equals_padding_the_image(hw):
    crop = ConservativeCrop(224, padding=4)
    img = np.random.default_rng(0).integers(0, 256, (*hw, 3), dtype=np.uint8)
    padded = np.pad(img, ((4, 4), (4, 4), (0, 0)), mode='reflect')
    for seed in range(40):
        np.random.seed(seed)
        out, (x1, y1, x2, y2) = crop.pad_and_crop(img)
        np.testing.assert_array_equal(out, padded[y1:y2, x1:x2])
