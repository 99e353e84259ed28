"""LoadImageSafely: every kind of image file made from a real photograph arrives as BGR
uint8 ``[H, W, 3]`` with the photograph's content; unusable files are skipped with a
warning naming them (skip mode) or raise naming them (raise mode)."""
import io
import struct
import zlib
from pathlib import Path
from typing import Optional

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data

from mmmim.datasets import ImageLoadError, LoadImageSafely


@pytest.fixture(scope='module')
def chelsea() -> np.ndarray:
    """[300, 451, 3] uint8 RGB photograph."""
    return data.chelsea()


@pytest.fixture(scope='module')
def camera() -> np.ndarray:
    """[512, 512] uint8 grayscale photograph."""
    return data.camera()


def load_rgb(path: Path, **kwargs) -> Optional[np.ndarray]:
    """LoadImageSafely on ``path``, checked for the mmcv contract, returned as RGB."""
    results = LoadImageSafely(**kwargs)({'img_path': str(path)})
    if results is None:
        return None
    img = results['img']
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3, img.shape
    assert results['img_shape'] == results['ori_shape'] == img.shape[:2]
    return img[:, :, ::-1]


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = struct.pack('>I', zlib.crc32(kind + payload))
    return struct.pack('>I', len(payload)) + kind + payload + crc


def png_header(width: int, height: int) -> bytes:
    """A valid PNG header claiming ``width x height`` RGB, with almost no pixel data."""
    ihdr = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
    return (b'\x89PNG\r\n\x1a\n' + png_chunk(b'IHDR', ihdr)
            + png_chunk(b'IDAT', zlib.compress(b'\0' * 64)) + png_chunk(b'IEND', b''))


def test_load__every_demo_photo_is_hxwx3_uint8_of_its_size(demo_images_dir):
    for path in sorted(demo_images_dir.iterdir()):
        with Image.open(path) as ref:
            width, height = ref.size
        assert load_rgb(path, on_error='raise').shape == (height, width, 3), path


def test_load__rgb_png_is_bgr_like_mmcv_loader(tmp_path, chelsea):
    from mmcv.transforms import LoadImageFromFile
    path = tmp_path / 'chelsea.png'
    Image.fromarray(chelsea).save(path)
    ours = LoadImageSafely()({'img_path': str(path)})['img']
    mmcv_img = LoadImageFromFile()({'img_path': str(path)})['img']
    np.testing.assert_array_equal(ours, mmcv_img)


def test_load__grayscale_repeats_gray_in_three_channels(tmp_path, camera):
    path = tmp_path / 'camera.png'
    Image.fromarray(camera).save(path)
    img = load_rgb(path)
    for channel in range(3):
        np.testing.assert_array_equal(img[:, :, channel], camera)


@pytest.mark.parametrize('suffix', ['.png', '.tif'])
def test_load__16bit_gray_scaled_to_8bit_not_truncated(tmp_path, camera, suffix):
    # 257 * v + 100 scales back to v + 0.39 -> v; low byte or clipping would not.
    samples = np.minimum(camera.astype(np.int64) * 257 + 100, 65535).astype(np.uint16)
    path = tmp_path / f'camera16{suffix}'
    Image.fromarray(samples).save(path)
    np.testing.assert_array_equal(load_rgb(path)[:, :, 0], camera)


@pytest.mark.parametrize('suffix', ['.png', '.tif'])
def test_load__16bit_rgb_scaled_to_original_within_1(tmp_path, chelsea, suffix):
    low_bits = np.random.default_rng(0).integers(0, 257, chelsea.shape)
    rgb16 = (chelsea.astype(np.int64) * 257 + low_bits).astype(np.uint16)
    path = tmp_path / f'chelsea16{suffix}'
    cv2.imwrite(str(path), rgb16[:, :, ::-1])
    diff = np.abs(load_rgb(path).astype(int) - chelsea)
    assert diff.max() <= 1


def test_load__12bit_pgm_scaled_to_original_within_1(tmp_path, camera):
    samples = np.round(camera * (4095 / 255)).astype('>u2')
    path = tmp_path / 'camera12.pgm'
    path.write_bytes(b'P5\n%d %d\n4095\n' % camera.shape[::-1] + samples.tobytes())
    diff = np.abs(load_rgb(path)[:, :, 0].astype(int) - camera)
    assert diff.max() <= 1


def test_load__float_tiff_in_unit_range_scaled_by_255(tmp_path, camera):
    path = tmp_path / 'camera_float.tif'
    Image.fromarray((camera / 255).astype(np.float32)).save(path)
    diff = np.abs(load_rgb(path)[:, :, 1].astype(int) - camera)
    assert diff.max() <= 1


def test_load__cmyk_jpeg_close_to_original(tmp_path, chelsea):
    path = tmp_path / 'chelsea_cmyk.jpg'
    Image.fromarray(chelsea).convert('CMYK').save(path, quality=95)
    assert Image.open(path).mode == 'CMYK'
    diff = np.abs(load_rgb(path).astype(int) - chelsea)
    assert diff.mean() < 3, diff.mean()


def test_load__palette_png_gives_palette_colours(tmp_path, chelsea):
    path = tmp_path / 'chelsea_p.png'
    Image.fromarray(chelsea).quantize(64).save(path)
    expected = np.asarray(Image.open(path).convert('RGB'))
    np.testing.assert_array_equal(load_rgb(path), expected)
    assert np.abs(expected.astype(int) - chelsea).mean() < 8  # still the photograph


def half_transparent(image: np.ndarray) -> np.ndarray:
    """Alpha plane: left half transparent (0), right half opaque (255)."""
    alpha = np.full(image.shape[:2], 255, np.uint8)
    alpha[:, :image.shape[1] // 2] = 0
    return alpha


def test_load__rgba_composited_on_white_or_alpha_dropped(tmp_path, chelsea):
    path = tmp_path / 'chelsea_rgba.png'
    Image.fromarray(np.dstack([chelsea, half_transparent(chelsea)])).save(path)
    half = chelsea.shape[1] // 2
    img = load_rgb(path)
    assert (img[:, :half] == 255).all()
    np.testing.assert_array_equal(img[:, half:], chelsea[:, half:])
    np.testing.assert_array_equal(load_rgb(path, alpha_background=None), chelsea)


def test_load__gray_alpha_composited_on_white(tmp_path, camera):
    path = tmp_path / 'camera_la.png'
    Image.fromarray(np.dstack([camera, half_transparent(camera)]), mode='LA').save(path)
    img, half = load_rgb(path), camera.shape[1] // 2
    assert (img[:, :half] == 255).all()
    np.testing.assert_array_equal(img[:, half:, 2], camera[:, half:])


def test_load__exif_orientation_applied(tmp_path, chelsea):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display needs 90 degrees clockwise
    path = tmp_path / 'chelsea_rotated.jpg'
    Image.fromarray(chelsea).save(path, exif=exif, quality=95)
    assert load_rgb(path).shape == (451, 300, 3)


def test_load__1x1_image_loads(tmp_path, chelsea):
    path = tmp_path / 'pixel.png'
    Image.fromarray(chelsea[150:151, 200:201]).save(path)
    np.testing.assert_array_equal(load_rgb(path), chelsea[150:151, 200:201])


def jpeg_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format='JPEG', quality=90)
    return buffer.getvalue()


#: kind -> (file name, how to make its bytes from the photo (None: no file), reason)
BROKEN = {
    'truncated_jpeg': ('cut.jpg', lambda img: jpeg_bytes(img)[:len(jpeg_bytes(img)) // 2],
                       'truncated'),
    'garbage': ('garbage.jpg', lambda img: b'this is not an image\n' * 40,
                "not a known image format (starts with b'this is not an i')"),
    'empty': ('empty.png', lambda img: b'', 'empty file (0 bytes)'),
    'missing': ('missing.jpg', None, 'No such file'),
    'absurd_size': ('huge.png', lambda img: png_header(5000, 5000), 'max_pixels'),
    'float_out_of_range': ('float.tif', None, 'float samples span'),
}


def make_broken(kind: str, tmp_path: Path, photo: np.ndarray) -> Path:
    """Write the broken file ``kind`` (made from a real photo) and return its path."""
    name, make, _ = BROKEN[kind]
    path = tmp_path / name
    if kind == 'float_out_of_range':
        Image.fromarray(photo[:, :, 0].astype(np.float32)).save(path)  # values up to 231
    elif make is not None:
        path.write_bytes(make(photo))
    return path


@pytest.mark.parametrize('kind', list(BROKEN))
def test_load__broken_file_skipped_with_warning_naming_file(kind, tmp_path, chelsea,
                                                            mmengine_log):
    path = make_broken(kind, tmp_path, chelsea)
    loader = LoadImageSafely(max_pixels=10_000_000)
    before = loader.skipped.count
    assert loader({'img_path': str(path)}) is None
    assert loader.skipped.count == loader.skipped.total == before + 1
    warning = next(m for m in mmengine_log if str(path) in m)
    assert BROKEN[kind][2] in warning
    assert f'{before + 1} skipped so far in this process' in warning


@pytest.mark.parametrize('kind', list(BROKEN))
def test_load__broken_file_raises_naming_file_in_raise_mode(kind, tmp_path, chelsea):
    path = make_broken(kind, tmp_path, chelsea)
    with pytest.raises(ImageLoadError) as info:
        load_rgb(path, on_error='raise', max_pixels=10_000_000)
    assert str(path) in str(info.value) and BROKEN[kind][2] in str(info.value)


def test_load__unknown_on_error_rejected_naming_value():
    with pytest.raises(ValueError, match="on_error='ignore'"):
        LoadImageSafely(on_error='ignore')


def test_cache_images__serves_copies_of_the_first_decode_up_to_its_limit(chelsea, camera,
                                                                         tmp_path):
    first, second = tmp_path / 'chelsea.png', tmp_path / 'camera.png'
    Image.fromarray(chelsea).save(first)
    Image.fromarray(camera).save(second)
    loader = LoadImageSafely(cache_images=1)
    decoded = loader({'img_path': str(first)})['img']
    decoded[:] = 0                                   # a later transform writing in place
    first.unlink()                                   # served from memory from now on
    again = loader({'img_path': str(first)})['img']
    np.testing.assert_array_equal(again[:, :, ::-1], chelsea)
    loader({'img_path': str(second)})
    second.unlink()                                  # over the limit: not cached
    assert loader({'img_path': str(second)}) is None
    with pytest.raises(ValueError, match='cache_images'):
        LoadImageSafely(cache_images=-1)
