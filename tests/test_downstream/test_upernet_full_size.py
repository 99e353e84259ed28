"""Every shipped UperNet config builds at full size on the CPU, and MIMPretrained on
the segmentor loads a full-size mmmim pretraining checkpoint of the matching
architecture: the load report says the backbone loaded, and every backbone tensor
equals the pretrained encoder's after the documented conversions (ViT position
embedding resized to the 512-px grid; Swin bias tables resized to window 7; PVT
pooled spatial reductions as mmdet's strided convs). The only backbone tensors not
from the checkpoint are the ones the target adds (mmseg MAE layer scale and relative
position bias, Swin output norms of inner stages, relative position index buffers,
which every target rebuilds for its window); the only encoder tensors left out are
the pretraining-only tokens and the final norm the target does not build."""
import re
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from tiny_seg import build_segmentor

from mmmim.converters.pvt import pooled_sr_to_conv
from mmmim.models.pos_embed import resize_abs_pos_embed, resize_rel_pos_bias_table

# slow: left out of `make test-fast` (make test runs everything)
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SEG = ROOT / 'configs/benchmarks/mmsegmentation/ade20k'

_VIT_NEW = (r'\.gamma_[12]$', r'\.relative_position_bias_table$',
            r'\.relative_position_index$')
_TOKENS = (r'^secondary_token$', r'^mask_token$')
_SWIN_NEW = (r'^norm[012]\.', r'relative_position_index$')
# config -> (pretraining config, target-new keys, encoder keys left out)
CASES = {
    'vit-base-p16-mae_upernet_8xb2-ld0.65-160k_ade20k-512x512.py': (
        'configs/mae/mae_vit-base-p16_8xb512-amp-coslr-400e_in1k.py', _VIT_NEW,
        _TOKENS + (r'^ln1\.',)),
    'vit-base-p16-localmim_upernet_8xb2-lr4e-4-ld0.65-160k_ade20k-512x512.py': (
        'configs/localmim/localmim_vit-base-p16_8xb256-amp-coslr-1600e_in1k.py', _VIT_NEW,
        _TOKENS + (r'^ln1\.',)),
    'swin-tiny-patch4-window7_upernet_8xb2-160k_ade20k-512x512.py': (
        'configs/ummae/ummae_swin-tiny-w8_8xb512-amp-coslr-200e_in1k-256px.py', _SWIN_NEW,
        _TOKENS + (r'relative_position_index$',)),
    'swin-tiny-patch4-window16-ummae_upernet_8xb2-160k_ade20k-512x512.py': (
        'configs/ummae/ummae_swin-tiny-w8_8xb512-amp-coslr-200e_in1k-256px.py', _SWIN_NEW,
        _TOKENS + (r'relative_position_index$',)),
    'swin-base-patch4-window7_upernet_8xb2-160k_ade20k-512x512.py': (
        'configs/localmim/localmim_swin-base-w7_8xb256-amp-coslr-400e_in1k.py', _SWIN_NEW,
        _TOKENS + (r'relative_position_index$',)),
    'pvt-small_upernet_8xb2-160k_ade20k-512x512.py': (
        'configs/ummae/ummae_pvt-small_8xb512-amp-coslr-200e_in1k-256px.py', (),
        _TOKENS + (r'^norm\.',)),
}


#: ViT config -> (tapped blocks, pooling of the x0.5 branch): MAE family vs LocalMIM
VIT_TAPS = {
    'vit-base-p16-mae_upernet_8xb2-ld0.65-160k_ade20k-512x512.py': ([3, 5, 7, 11], 'Max'),
    'vit-base-p16-localmim_upernet_8xb2-lr4e-4-ld0.65-160k_ade20k-512x512.py':
        ([1, 3, 9, 11], 'Avg'),
}


def test_every_shipped_upernet_config_is_covered():
    assert sorted(p.name for p in SEG.glob('*.py')) == sorted(CASES)


def pretraining_checkpoint(config: str, path: Path) -> dict:
    """A full-size pretraining model of ``config`` with every tensor drawn anew (so
    no value matches by accident), saved as training saves it; returns the
    encoder's tensors."""
    import mmmim.models  # noqa: F401
    from mmmim.registry import MODELS
    init_default_scope('mmmim')
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(str(ROOT / config)).model)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_()
    torch.save({'state_dict': model.state_dict(), 'meta': {'epoch': 1}}, path)
    return {k: v.clone() for k, v in model.encoder.state_dict().items()}


def expected_tensor(key: str, value: torch.Tensor, target: torch.Tensor, backbone
                    ) -> torch.Tensor:
    """The encoder tensor after the conversion documented in docs/converters.md."""
    if key == 'pos_embed' and value.shape != target.shape:       # ViT: to the 32x32 grid
        return resize_abs_pos_embed(value, tuple(backbone.patch_shape), num_extra_tokens=1)
    if key.endswith('relative_position_bias_table') and value.shape != target.shape:
        side = (int(target.shape[0] ** 0.5) + 1) // 2             # Swin: window w8 -> w7
        return resize_rel_pos_bias_table(value, (side, side))
    if key.endswith('attn.sr.weight') and value.shape != target.shape:
        return pooled_sr_to_conv({key: value}, backbone.sr_ratios)[key]   # PVT
    return value


def matching(patterns, key: str) -> bool:
    return any(re.search(p, key) for p in patterns)


@pytest.mark.parametrize('config', sorted(CASES))
def test_full_size_config__backbone_equals_the_pretrained_encoder(config, tmp_path,
                                                                  mmengine_log):
    pretrain_config, target_new, left_out = CASES[config]
    encoder = pretraining_checkpoint(pretrain_config, tmp_path / 'epoch_1.pth')
    cfg = Config.fromfile(str(SEG / config))  # imports its custom_imports
    cfg.model.init_cfg.checkpoint = str(tmp_path / 'epoch_1.pth')
    model = build_segmentor(cfg.model)
    reports = [m for m in mmengine_log if 'load report into' in m]
    assert len(reports) == 1 and 'status: OK, backbone fully loaded' in reports[0], reports
    assert 'MISSING' not in reports[0] and 'UNEXPECTED' not in reports[0]

    backbone = model.backbone
    if config in VIT_TAPS:
        blocks, pool = VIT_TAPS[config]
        assert list(backbone.out_indices) == blocks
        assert type(model.neck.branches[3]).__name__ == f'{pool}Pool2d'
    state = backbone.state_dict()
    new = sorted(k for k in state if k not in encoder)
    assert all(matching(target_new, k) for k in new) and bool(new) == bool(target_new), new
    unused = sorted(k for k in encoder if k not in state)
    assert all(matching(left_out, k) for k in unused), unused
    shared = [k for k in state if k in encoder and not k.endswith('relative_position_index')]
    assert shared
    for key in shared:
        want = expected_tensor(key, encoder[key], state[key], backbone)
        torch.testing.assert_close(state[key], want, rtol=0, atol=1e-6, msg=key)
