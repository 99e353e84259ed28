import numpy as np
import pytest

from mmmim.datasets.conservative_crop import ConservativeCrop
from mmmim.registry import TRANSFORMS

SIZE, PAD = 224, 4


def coordinate_image(h: int = SIZE, w: int = SIZE) -> np.ndarray:
    """uint16 image whose channels 0/1 hold each pixel's row/column."""
    rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing='ij')
    return np.stack([rows, cols, np.zeros_like(rows)], axis=-1).astype(np.uint16)


def photo(h: int, w: int) -> np.ndarray:
    from PIL import Image
    from skimage import data
    return np.asarray(Image.fromarray(data.astronaut()).resize((w, h), Image.BICUBIC))


@pytest.mark.parametrize('hw', [(300, 400), (500, 333), (224, 224), (100, 150)])
def test_conservative_crop__output_is_crop_size_square(hw):
    np.random.seed(0)
    out = ConservativeCrop(crop_size=SIZE, padding=PAD).transform({'img': photo(*hw)})
    assert out['img'].shape == (SIZE, SIZE, 3) and out['img_shape'] == (SIZE, SIZE)
    assert out['img'].dtype == np.uint8


def test_conservative_crop__registered_and_built_from_config():
    crop = TRANSFORMS.build(dict(type='ConservativeCrop', crop_size=SIZE, padding=PAD))
    assert isinstance(crop, ConservativeCrop)


def test_conservative_crop__keeps_the_foreground_no_scale_jitter():
    crop = ConservativeCrop(crop_size=SIZE, padding=PAD)
    worst = 1.0
    for seed in range(50):
        np.random.seed(seed)
        out = crop.transform({'img': coordinate_image()})['img']
        covered = len({(r, c) for r, c in out[..., :2].reshape(-1, 2).tolist()})
        worst = min(worst, covered / SIZE**2)
    assert worst >= (SIZE / (SIZE + 2 * PAD))**2
    assert worst >= ((SIZE - PAD) / SIZE)**2 - 1e-12   # the exact bound: 220^2 / 224^2


def test_conservative_crop__border_filled_by_reflection():
    crop = ConservativeCrop(crop_size=SIZE, padding=PAD)
    reflected = np.pad(np.arange(SIZE), PAD, mode='reflect')    # [4, 3, 2, 1, 0, 1, ...]
    saw_padding = False
    for seed in range(30):
        np.random.seed(seed)
        out = crop.transform({'img': coordinate_image()})
        x1, y1, _, _ = out['crop_bbox']
        rows, cols = out['img'][:, 0, 0], out['img'][0, :, 1]
        assert rows.tolist() == reflected[y1:y1 + SIZE].tolist()
        assert cols.tolist() == reflected[x1:x1 + SIZE].tolist()
        saw_padding |= x1 < PAD or y1 < PAD or x1 > PAD or y1 > PAD
    assert saw_padding


def test_conservative_crop__longer_side_kept_whole_in_aspect():
    np.random.seed(0)
    crop = ConservativeCrop(crop_size=SIZE, padding=PAD)
    assert crop.resize_shorter_side(photo(300, 450)).shape[:2] == (SIZE, 336)
    assert crop.resize_shorter_side(photo(450, 300)).shape[:2] == (336, SIZE)


def test_conservative_crop__deterministic_under_seed():
    crop = ConservativeCrop(crop_size=SIZE, padding=PAD)
    outs = []
    for _ in range(2):
        np.random.seed(123)
        outs.append(crop.transform({'img': photo(300, 400)})['img'])
    assert np.array_equal(*outs)
    boxes = set()
    for seed in range(10):
        np.random.seed(seed)
        boxes.add(crop.transform({'img': photo(300, 400)})['crop_bbox'])
    assert len(boxes) > 1                                        # but random across seeds


def library_crop(img: np.ndarray) -> np.ndarray:
    """mmpretrain's ResizeEdge (shorter side, Pillow bicubic) then RandomCrop with
    4 px padding and padding_mode='reflect': the composition ours is compared with."""
    resize = TRANSFORMS.build(dict(type='ResizeEdge', scale=SIZE, edge='short',
                                   backend='pillow', interpolation='bicubic'))
    crop = TRANSFORMS.build(dict(type='RandomCrop', crop_size=SIZE, padding=PAD,
                                 padding_mode='reflect'))
    return crop.transform(resize.transform({'img': img}))['img']


@pytest.mark.parametrize('name', ['astronaut', 'coffee'])
def test_conservative_crop__differs_from_library_composition_only_in_its_border(name):
    """On square photographs (the same resized image and the same draws from numpy's
    RNG) mmpretrain's composition equals ours inside the image, but its padding is
    black: RandomCrop applies ``padding_mode`` only to ``pad_if_needed``, and pads
    ``padding`` with ``pad_val`` (0). Ours mirrors the border, as PixMIM does."""
    from skimage import data
    img = getattr(data, name)()
    img = img[:min(img.shape[:2]), :min(img.shape[:2])]  # square crop of the photograph
    differs = 0
    for seed in range(20):
        np.random.seed(seed)
        ours = ConservativeCrop(crop_size=SIZE, padding=PAD).transform({'img': img})
        np.random.seed(seed)
        theirs = library_crop(img)
        x1, y1, _, _ = ours['crop_bbox']
        inside = (slice(max(PAD - y1, 0), SIZE - max(y1 - PAD, 0)),
                  slice(max(PAD - x1, 0), SIZE - max(x1 - PAD, 0)))
        assert np.array_equal(ours['img'][inside], theirs[inside])
        border = np.ones((SIZE, SIZE), bool)
        border[inside] = False
        if border.any():
            differs += 1
            assert (theirs[border] == 0).all()                     # black
            assert (ours['img'][border] != 0).any()                 # mirrored photograph
    assert differs > 0


def test_conservative_crop__longer_side_rounded_where_resize_edge_truncates():
    """chelsea is 451 x 300: at 224 its longer side is 336.7 px, which ResizeEdge
    truncates to 336 and ours rounds to 337."""
    from skimage import data
    img = data.chelsea()
    resize = TRANSFORMS.build(dict(type='ResizeEdge', scale=SIZE, edge='short',
                                   backend='pillow', interpolation='bicubic'))
    assert resize.transform({'img': img})['img'].shape[:2] == (224, 336)
    ours = ConservativeCrop(crop_size=SIZE, padding=PAD).resize_shorter_side(img)
    assert ours.shape[:2] == (224, 337)
