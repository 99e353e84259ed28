"""ViTFeaturePyramid: with max pooling it is mmseg's Feature2Pyramid (same weights, same
outputs); with average pooling only the downsampling branches change."""
import pytest
import torch
import torch.nn.functional as F

from mmmim.models.necks import ViTFeaturePyramid

BN = dict(type='BN', requires_grad=True)


def photo_maps(photo_batch, copies=4):
    """Real-image maps ``[N, 192, 8, 8]`` (8x8 pixel blocks as channels), one per branch."""
    x = F.pixel_unshuffle(photo_batch, 8)
    return [x + 0.1 * i for i in range(copies)]


def copy_weights(src: torch.nn.Module, dst: torch.nn.Module) -> None:
    """Copy parameters and buffers in registration order (the key names differ)."""
    src_state, dst_state = list(src.state_dict().values()), dst.state_dict()
    assert len(src_state) == len(dst_state)
    dst.load_state_dict(dict(zip(dst_state, src_state)))


def test_max_pyramid__equals_mmseg_feature2pyramid(photo_batch):
    from mmseg.models.necks import Feature2Pyramid
    theirs = Feature2Pyramid(embed_dim=192, rescales=[4, 2, 1, 0.5], norm_cfg=BN).eval()
    ours = ViTFeaturePyramid(embed_dims=192, rescales=[4, 2, 1, 0.5], downsample='max',
                             norm_cfg=BN).eval()
    with torch.no_grad():
        for p in theirs.parameters():
            p.normal_()
    copy_weights(theirs, ours)
    maps = photo_maps(photo_batch)
    with torch.no_grad():
        expected, got = theirs(maps), ours(maps)
    assert [tuple(g.shape[-2:]) for g in got] == [(32, 32), (16, 16), (8, 8), (4, 4)]
    for e, g in zip(expected, got):
        torch.testing.assert_close(g, e, rtol=0, atol=0)


def test_avg_pyramid__halves_by_average_and_keeps_the_other_branches(photo_batch):
    maps = photo_maps(photo_batch)
    avg = ViTFeaturePyramid(192, downsample='avg', norm_cfg=BN).eval()
    mx = ViTFeaturePyramid(192, downsample='max', norm_cfg=BN).eval()
    mx.load_state_dict(avg.state_dict())
    with torch.no_grad():
        a, m = avg(maps), mx(maps)
    torch.testing.assert_close(a[3], F.avg_pool2d(maps[3], 2), rtol=0, atol=0)
    assert not torch.allclose(a[3], m[3])
    for i in range(3):
        torch.testing.assert_close(a[i], m[i], rtol=0, atol=0)


def test_quarter_scale_pools_by_four(photo_batch):
    neck = ViTFeaturePyramid(192, rescales=[2, 1, 0.5, 0.25], downsample='avg', norm_cfg=BN)
    out = neck(photo_maps(photo_batch))
    torch.testing.assert_close(out[3], F.avg_pool2d(photo_maps(photo_batch)[3], 4))


@pytest.mark.parametrize('kwargs, message', [
    (dict(downsample='median'), "downsample must be one of ['avg', 'max']"),
    (dict(rescales=[4, 3, 1, 0.5]), 'rescale 3 is not one of'),
])
def test_bad_arguments__name_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message.replace('[', r'\[').replace(']', r'\]')):
        ViTFeaturePyramid(32, norm_cfg=BN, **kwargs)


def test_wrong_number_of_maps__raises(photo_batch):
    with pytest.raises(ValueError, match='got 2 maps for 4 rescales'):
        ViTFeaturePyramid(192, norm_cfg=BN)(photo_maps(photo_batch, copies=2))
