import math

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope
from photos import photo_tensor
from test_models.tiny import tiny_mae_cfg

from mmmim.models.targets import (
    LowPassFilter,
    MultiScalePixelTarget,
    PixelTarget,
    lowpass_keep_mask,
)
from mmmim.registry import MODELS

init_default_scope('mmmim')

MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]


def bound_filter(mean=MEAN, std=STD, output='real', **kwargs) -> LowPassFilter:
    f = LowPassFilter(output=output, **kwargs)
    f.bind_normalization(torch.tensor(mean).view(3, 1, 1), torch.tensor(std).view(3, 1, 1))
    return f


def numpy_lowpass(images: np.ndarray, radius: float, reference_size: int, mean, std,
                  magnitude: bool = False) -> np.ndarray:
    """Independent reference: full FFT, fftshift (DC at index (H//2, W//2)), circular
    pass band around that index in cycles per pixel, ifftshift, inverse FFT."""
    mean = np.asarray(mean, np.float64).reshape(1, -1, 1, 1)
    std = np.asarray(std, np.float64).reshape(1, -1, 1, 1)
    raw = images.astype(np.float64) * std + mean
    h, w = raw.shape[-2:]
    rows = (np.arange(h) - h // 2)[:, None] / h
    cols = (np.arange(w) - w // 2)[None, :] / w
    keep = rows**2 + cols**2 <= (radius / reference_size)**2 + 1e-12
    spectrum = np.fft.fftshift(np.fft.fft2(raw), axes=(-2, -1)) * keep
    low = np.fft.ifft2(np.fft.ifftshift(spectrum, axes=(-2, -1)))
    low = np.abs(low) if magnitude else low.real
    return (low - mean) / std


def impulse(size: int) -> torch.Tensor:
    """A unit impulse per channel: its spectrum is 1 in every frequency bin."""
    x = torch.zeros(1, 3, size, size)
    x[..., 0, 0] = 1.
    return x


def kept_bins(radius: float, reference_size: int, size: int) -> int:
    """Frequency bins passed by the filter, read from its impulse response (raw pixel
    space: the fp32 round-off of un-normalizing would blur the count at DC)."""
    f = LowPassFilter(radius=radius, reference_size=reference_size, output='real')
    f.bind_normalization(None, None)
    gain = torch.fft.fft2(f(impulse(size)).double()).abs()[0, 0]
    assert bool(((gain < 1e-3) | ((gain - 1).abs() < 1e-3)).all())  # ideal: 0 or 1
    return int((gain > 0.5).sum())


def gauss_circle(r: int) -> int:
    """Integer points with x^2 + y^2 <= r^2."""
    return sum(2 * math.isqrt(r * r - x * x) + 1 for x in range(-r, r + 1))


@pytest.mark.parametrize('size', [(224, 224), (64, 96), (63, 65)])
def test_lowpass__equals_numpy_reference_even_odd_and_nonsquare_sizes(size):
    images = torch.nn.functional.interpolate(photo_tensor(128)[:2], size=size,
                                             mode='bilinear')
    f = bound_filter(radius=40, reference_size=224)
    expected = numpy_lowpass(images.numpy(), 40, 224, MEAN, STD)
    assert np.abs(f(images).numpy() - expected).max() < 1e-5


def test_lowpass__magnitude_output_equals_numpy_reference():
    images = photo_tensor(64)[:2]
    f = bound_filter(radius=10, reference_size=64, output='magnitude')
    expected = numpy_lowpass(images.numpy(), 10, 64, MEAN, STD, magnitude=True)
    assert np.abs(f(images).numpy() - expected).max() < 1e-5


def test_lowpass__r40_at_224_keeps_the_5025_bins_of_the_definition():
    # lattice points with ky^2 + kx^2 <= 40^2, centred on DC: 5025 of 50176 = 10.0%
    assert gauss_circle(40) == 5025
    assert int(lowpass_keep_mask((224, 224), 40 / 224, onesided=False).sum()) == 5025
    assert kept_bins(40, 224, 224) == 5025
    assert abs(5025 / 224**2 - 0.10) < 0.001


def test_lowpass__pass_band_is_point_symmetric_about_dc_for_even_sizes():
    keep = lowpass_keep_mask((224, 160), 40 / 224, onesided=False)
    mirrored = torch.roll(torch.flip(keep, dims=(0, 1)), shifts=(1, 1), dims=(0, 1))
    assert keep[0, 0] and torch.equal(keep, mirrored)  # keep(k) == keep(-k)


def test_lowpass__radius_covering_the_whole_spectrum_returns_the_input():
    images = photo_tensor(64)
    out = bound_filter(radius=1000, reference_size=224)(images)
    assert torch.allclose(out, images, atol=1e-4)


@pytest.mark.parametrize('size,radius_bins', [(112, 20), (56, 10), (448, 80)])
def test_lowpass__radius_scales_with_input_size(size, radius_bins):
    assert kept_bins(40, 224, size) == gauss_circle(radius_bins)
    torch.manual_seed(0)
    noise = torch.randn(1, 3, size, size)
    # the same filter stated at another reference size is the same filter
    direct = bound_filter(radius=radius_bins, reference_size=size)(noise)
    assert torch.allclose(bound_filter(radius=40, reference_size=224)(noise), direct)


def test_lowpass__fp32_output_under_bf16_autocast():
    images = photo_tensor(64)
    f = bound_filter(radius=10, reference_size=64)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = f(images.bfloat16())
    assert out.dtype == torch.float32
    assert torch.allclose(out, f(images.bfloat16().float()), atol=1e-5)


def test_lowpass__unbound_normalization_raises():
    with pytest.raises(RuntimeError, match='bind_normalization'):
        LowPassFilter()(photo_tensor(64))


def test_lowpass__reads_mean_std_bound_from_the_model_preprocessor():
    images = photo_tensor(64)[:2]
    mean, std = [0.0, 10.0, 200.0], [80.0, 20.0, 30.0]
    target = dict(type='PixelTarget', patch_size=16, filters=[
        dict(type='LowPassFilter', radius=10, reference_size=64, output='magnitude')])
    model = MODELS.build(tiny_mae_cfg(target=target,
                                      data_preprocessor=dict(mean=mean, std=std)))
    f = model.target.filters[0]
    assert torch.equal(f.mean.flatten(), torch.tensor(mean))
    assert torch.equal(f.std.flatten(), torch.tensor(std))
    # the target follows the statistics: it equals the reference with THESE mean/std
    expected = numpy_lowpass(images.numpy(), 10, 64, mean, std, magnitude=True)
    assert np.abs(f(images).numpy() - expected).max() < 1e-5
    other = numpy_lowpass(images.numpy(), 10, 64, MEAN, STD, magnitude=True)
    assert np.abs(f(images).numpy() - other).max() > 1e-2


def test_lowpass__real_output_is_independent_of_the_normalization():
    # linear and DC-preserving: un- and re-normalizing cancel
    images = photo_tensor(64)
    a = bound_filter(radius=10, reference_size=64)(images)
    b = bound_filter([0., 10., 200.], [80., 20., 30.], radius=10, reference_size=64)(images)
    unbound_raw = LowPassFilter(radius=10, reference_size=64, output='real')
    unbound_raw.bind_normalization(None, None)
    assert torch.allclose(a, b, atol=1e-4) and torch.allclose(a, unbound_raw(images), atol=1e-4)


def test_lowpass__composes_in_front_of_per_patch_normalization():
    images = photo_tensor(64)
    f = bound_filter(radius=10, reference_size=64)
    target = PixelTarget(patch_size=16, filters=[f])
    assert torch.allclose(target(images), PixelTarget(patch_size=16)(f(images)))


def test_lowpass__one_fft_pair_per_batch_and_mask_cached(monkeypatch):
    f = bound_filter(radius=10, reference_size=64)
    calls = []
    rfft2 = torch.fft.rfft2
    monkeypatch.setattr(torch.fft, 'rfft2', lambda *a, **k: calls.append(1) or rfft2(*a, **k))
    f(photo_tensor(64))
    assert len(calls) == 1
    assert f.keep_mask((64, 64)) is f.keep_mask((64, 64))


def test_lowpass__pass_band_built_once_across_calls_and_outputs_repeat(monkeypatch):
    import mmmim.models.targets.lowpass as lowpass
    built = []
    keep_mask = lowpass.lowpass_keep_mask
    monkeypatch.setattr(lowpass, 'lowpass_keep_mask',
                        lambda *a, **k: built.append(a[0]) or keep_mask(*a, **k))
    f = bound_filter(radius=10, reference_size=64, output='magnitude')
    images = photo_tensor(64)
    first = f(images)
    assert torch.equal(f(images), first) and torch.equal(f(images[:1]), first[:1])
    assert built == [(64, 64)]
    f(photo_tensor(32))  # another size: its own pass band, built once too
    f(photo_tensor(32))
    assert built == [(64, 64), (32, 32)]


@pytest.mark.parametrize('output', ['real', 'magnitude'])
def test_lowpass__leaves_its_input_untouched(output):
    images = photo_tensor(64)
    before = images.clone()
    bound_filter(radius=10, reference_size=64, output=output)(images)
    assert torch.equal(images, before)


def test_lowpass__magnitude_without_normalization_equals_numpy_reference():
    # unbound statistics (raw pixels in): no DC shift, |L(x)| alone
    images = photo_tensor(64)[:2] * 50 + 100
    f = LowPassFilter(radius=10, reference_size=64, output='magnitude')
    f.bind_normalization(None, None)
    expected = numpy_lowpass(images.numpy(), 10, 64, [0.] * 3, [1.] * 3, magnitude=True)
    assert np.abs(f(images).numpy() - expected).max() < 3e-4  # values up to ~213: fp32 round-off


def test_lowpass__checkpoint_keys_equal_mae_keys():
    # the bound statistics are non-persistent buffers: PixMIM checkpoints load as MAE's
    lowpass = dict(type='PixelTarget', patch_size=16,
                   filters=[dict(type='LowPassFilter', radius=10, reference_size=64)])
    pixmim = MODELS.build(tiny_mae_cfg(target=lowpass, data_preprocessor=dict(
        mean=MEAN, std=STD)))
    mae = MODELS.build(tiny_mae_cfg(data_preprocessor=dict(mean=MEAN, std=STD)))
    assert pixmim.state_dict().keys() == mae.state_dict().keys()


def test_lowpass__in_multiscale_pixel_target_runs_once_in_front_of_every_scale(monkeypatch):
    # LocalMIM-Pixel with PixMIM's target: one FFT pair per batch for all scales
    images = photo_tensor(64)
    f = bound_filter(radius=10, reference_size=64, output='magnitude')
    target = MultiScalePixelTarget(patch_sizes=(8, 16, 32, 32), filters=[f])
    calls = []
    rfft2 = torch.fft.rfft2
    monkeypatch.setattr(torch.fft, 'rfft2', lambda *a, **k: calls.append(1) or rfft2(*a, **k))
    maps = target.multi_scale(images)
    assert len(calls) == 1
    for k in (8, 16, 32):
        assert torch.allclose(maps[f'pix{k}'], PixelTarget(patch_size=k)(f(images)), atol=1e-5)


def test_lowpass__multiscale_pixel_target_binds_the_model_preprocessor_statistics():
    target = MultiScalePixelTarget(patch_sizes=(8, 16), filters=[
        dict(type='LowPassFilter', radius=10, reference_size=64)])
    target.bind_normalization(torch.tensor(MEAN).view(3, 1, 1), torch.tensor(STD).view(3, 1, 1))
    assert torch.equal(target.filters[0].mean.flatten(), torch.tensor(MEAN))
