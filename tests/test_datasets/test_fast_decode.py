"""decode_rgb_fast (libjpeg-turbo through simplejpeg for plain JPEGs) gives Pillow's
pixels bit for bit at every DCT reduction, calls the plan once, and leaves every other
file, every broken file and every error message to Pillow's path; without simplejpeg
it is Pillow's path."""
import io
import re
import struct

import numpy as np
import pytest
from PIL import Image
from skimage import data
from test_datasets.test_load_image_safely import BROKEN, make_broken

from mmmim.datasets import ImageLoadError, LoadAndRandomResizedCrop, LoadImageSafely, fast_decode
from mmmim.datasets.decode import ImageDecodeError, decode_rgb_scaled
from mmmim.datasets.fast_decode import decode_rgb_fast, full_size

simplejpeg = pytest.importorskip('simplejpeg')


def jpeg(size=(1601, 1203), mode='RGB', **save) -> bytes:
    """The astronaut photograph at ``size`` (w, h; odd sizes leave partial DCT blocks)."""
    buffer = io.BytesIO()
    image = Image.fromarray(data.astronaut()).resize(size, Image.BICUBIC).convert(mode)
    image.save(buffer, format='JPEG', quality=save.pop('quality', 90), **save)
    return buffer.getvalue()


def plan_of(factor: int):
    calls = []

    def plan(size):
        calls.append(size)
        return ('planned', size), factor
    return plan, calls


def pillow_path(data_: bytes, factor: int):
    return decode_rgb_scaled(data_, plan_of(factor)[0])


@pytest.mark.parametrize('variant', [dict(), dict(progressive=True), dict(mode='L'),
                                     dict(subsampling=0), dict(size=(500, 375))])
@pytest.mark.parametrize('factor', [1, 2, 4, 8])
def test_plain_jpeg__pillows_pixels_bit_for_bit_at_every_reduction(variant, factor,
                                                                   monkeypatch):
    encoded = jpeg(**variant)
    plan, calls = plan_of(factor)
    called = []
    monkeypatch.setattr(fast_decode, 'decode_rgb_scaled',
                        lambda *a: called.append(a) or decode_rgb_scaled(*a))
    rgb, planned, scale = decode_rgb_fast(encoded, plan)
    assert not called, 'the fast path fell back to Pillow'
    ref_rgb, ref_planned, ref_scale = pillow_path(encoded, factor)
    assert (planned, scale) == (ref_planned, ref_scale) and len(calls) == 1
    assert rgb.dtype == np.uint8 and rgb.shape == ref_rgb.shape
    np.testing.assert_array_equal(rgb, ref_rgb)


def cmyk_jpeg() -> bytes:
    return jpeg(mode='CMYK')


def rotated_jpeg() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6
    return jpeg(exif=exif)


def extraneous_bytes_jpeg() -> bytes:
    """Decodable with a libjpeg warning (junk before the end marker): Pillow's pixels."""
    encoded = jpeg(size=(320, 240))
    return encoded[:-2] + b'\x00junk' + encoded[-2:]


@pytest.mark.parametrize('make', [cmyk_jpeg, rotated_jpeg, extraneous_bytes_jpeg])
def test_unusual_jpeg__goes_to_pillows_path_with_the_same_single_plan(make):
    encoded = make()
    plan, calls = plan_of(2)
    rgb, planned, scale = decode_rgb_fast(encoded, plan)
    ref = pillow_path(encoded, 2)
    assert len(calls) == 1 and (planned, scale) == ref[1:]
    np.testing.assert_array_equal(rgb, ref[0])


def with_size(encoded: bytes, width: int, height: int) -> bytes:
    """``encoded`` with its SOF0 frame header claiming ``width x height``."""
    sof = encoded.index(b'\xff\xc0')
    return (encoded[:sof + 5] + struct.pack('>HH', height, width) + encoded[sof + 9:])


def error_of(call) -> str:
    with pytest.raises(ImageDecodeError) as info:
        call()
    return str(info.value)


@pytest.mark.parametrize('broken', [
    lambda e: e[:len(e) // 2],                                    # truncated
    lambda e: e[:600] + bytes(range(256)) * 8 + e[600 + 2048:],  # corrupt entropy data
    lambda e: with_size(e, 20000, 20000),                         # over max_pixels
    lambda e: with_size(e, 0, 240),                               # zero width
    lambda e: e[:2] + b'\xff\xc0\x00',                            # header cut
])
def test_broken_jpeg__pillows_error_message_fast_path_or_not(broken, monkeypatch):
    encoded = broken(jpeg(size=(320, 240)))
    fast = error_of(lambda: decode_rgb_fast(encoded, full_size))
    monkeypatch.setattr(fast_decode, 'simplejpeg', None)
    assert fast == error_of(lambda: decode_rgb_fast(encoded, full_size))


@pytest.mark.parametrize('kind', list(BROKEN))
def test_broken_file__same_skip_reason_with_and_without_simplejpeg(kind, tmp_path,
                                                                  monkeypatch):
    path = str(make_broken(kind, tmp_path, data.chelsea()))
    reasons = []
    for module in (simplejpeg, None):
        monkeypatch.setattr(fast_decode, 'simplejpeg', module)
        args = dict(on_error='raise', max_pixels=10_000_000)
        for loader in (LoadImageSafely(**args), LoadAndRandomResizedCrop(224, **args)):
            with pytest.raises(ImageLoadError, match=re.escape(BROKEN[kind][2])) as info:
                loader({'img_path': path})
            reasons.append(info.value.reason)
    assert len(set(reasons)) == 1, reasons


def test_without_simplejpeg__loaders_give_the_same_pixels(tmp_path, monkeypatch):
    path = tmp_path / 'a.jpg'
    path.write_bytes(jpeg())
    outputs = []
    for module in (simplejpeg, None):
        monkeypatch.setattr(fast_decode, 'simplejpeg', module)
        np.random.seed(0)
        crop = LoadAndRandomResizedCrop(224, (0.2, 1.0))({'img_path': str(path)})['img']
        outputs.append((LoadImageSafely()({'img_path': str(path)})['img'], crop))
    for with_it, without in zip(*outputs):
        np.testing.assert_array_equal(with_it, without)
