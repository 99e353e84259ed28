"""The figure of every kind of target, on tiny versions of the shipped configs: the
panels each method needs, titled, and showing what their titles say."""
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_configs import tiny_model_and_size

from mmmim.visualization import reconstruction_figure
from mmmim.visualization.hog_glyphs import hog_glyph_image
from mmmim.visualization.reconstruction import MASKED_GREY

CONFIGS = Path(__file__).resolve().parents[2] / 'configs'


def figure_of(config: str, photo_batch, count: int = 2):
    model, size = tiny_model_and_size(CONFIGS / config)
    images = F.interpolate(photo_batch[:count], size=(size, size), mode='bilinear')
    torch.manual_seed(0)
    return model, images, reconstruction_figure(model.eval(), images,
                                                [f'photo{i}' for i in range(count)])


def panels(figure, title_start: str):
    return [np.asarray(figure.image[top:bottom, left:right])
            for title, (left, top, right, bottom) in figure.boxes if title.startswith(title_start)]


def test_ummae_figure__secondary_masked_units_marked_apart_from_grey_ones(photo_batch):
    _, _, figure = figure_of('ummae/ummae_swin-tiny-w8_8xb512-amp-coslr-200e_in1k-256px.py',
                             photo_batch)
    titles = [t for t, _ in figure.boxes]
    assert 'reconstruction, true patch statistics' in titles
    assert 'reconstruction, none borrowed' in titles
    for masked in panels(figure, 'masked input'):
        grey = (masked == MASKED_GREY).all(-1).mean()
        tinted = ((masked[..., 2].astype(int) - masked[..., 0]) > 60).mean()
        assert 0.7 < grey < 0.8           # 75% primarily masked
        assert 0.02 < tinted < 0.0625 + 0.01  # up to 25% of the 25% visible, tinted blue


def test_pixmim_figure__low_pass_target_beside_the_raw_image(photo_batch):
    model, images, figure = figure_of('pixmim/pixmim_vit-base-p16_8xb512-amp-coslr-300e_in1k.py',
                                      photo_batch)
    originals = panels(figure, 'photo')
    lowpass = panels(figure, 'low-pass target')
    assert len(lowpass) == 2 and 'low-pass recon., none borrowed' in [t for t, _ in figure.boxes]
    for original, low in zip(originals, lowpass):
        assert original.shape == low.shape
        diff = np.abs(original.astype(int) - low.astype(int))
        assert diff.mean() > 2                     # the high frequencies are gone
        assert abs(original.mean() - low.mean()) < 2  # DC kept


@pytest.mark.parametrize('config, kind', [
    ('localmim/localmim_vit-base-p16_8xb256-amp-coslr-100e_in1k.py', 'HOG'),
    ('localmim/localmim_swin-base-w7_8xb256-amp-coslr-100e_in1k-pixel.py', 'pixel')])
def test_localmim_figure__every_level_target_beside_its_prediction(config, kind, photo_batch):
    model, images, figure = figure_of(config, photo_batch, count=1)
    titles = [t for t, _ in figure.boxes]
    for level in model.levels:
        grid = model.target.grid(images.shape[-2:], level.target)
        tag = f'{level.log_name} ({grid[0]}x{grid[1]})'
        target = [t for t in titles if t.startswith(f'{tag} ') and 'target' in t.split(',')[0]]
        pred = [t for t in titles if t.startswith(f'{tag} ') and 'prediction' in t]
        assert target and pred, (tag, titles)
        if kind == 'HOG':   # glyph cells of at least 12 px at the level's own grid
            box = dict(figure.boxes)[target[0]]
            assert (box[3] - box[1]) % grid[0] == 0 and (box[3] - box[1]) // grid[0] >= 12
    target_panel, pred_panel = panels(figure, f'{model.levels[0].log_name} ')[:2]
    assert not np.array_equal(target_panel, pred_panel)


def test_hog_glyph__a_horizontal_edge_draws_a_horizontal_stroke():
    """Bin 0 holds vertical gradients, i.e. horizontal edges (HOGTarget's binning)."""
    nbins = 9
    features = np.zeros((1, 3 * nbins), np.float32)
    features[0, [0, nbins, 2 * nbins]] = 1.0             # bin 0 in every channel
    glyph = hog_glyph_image(features, (1, 1), nbins, cell_px=15)[..., 0].astype(float)
    rows, cols = glyph.sum(1), glyph.sum(0)
    assert rows.max() > 4 * np.sort(rows)[-4]   # ink in one or two rows only
    assert (cols > 0).sum() >= 11               # spread along the row
    vertical = np.zeros_like(features)
    vertical[0, [4, 4 + nbins, 4 + 2 * nbins]] = 1.0      # bin nbins // 2: vertical edge
    glyph_v = hog_glyph_image(vertical, (1, 1), nbins, cell_px=15)[..., 0].astype(float)
    assert glyph_v.sum(0).max() > 4 * np.sort(glyph_v.sum(0))[-4]
