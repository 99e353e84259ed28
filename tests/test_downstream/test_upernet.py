"""UperNet configs (configs/benchmarks/mmsegmentation/ade20k), tiny (tiny_seg.py) on
the tiny ADE data:

- built from a tiny mmmim pretraining checkpoint of the matching family (MAE ViT for
  the MAE-layer ViT config, LocalMIM ViT for the LocalMIM one, UM-MAE Swin, UM-MAE
  PVT), the load report in the log says the backbone loaded, two training iterations
  give finite losses and finite non-zero backbone gradients, and one evaluation pass
  computes mmseg's IoUMetric mIoU;
- the layer-wise lr decay groups are the config's (mmseg MAE block depths);
- a fine-tuned mmpretrain classifier checkpoint (``backbone.*``) loads as well;
- a checkpoint of another family fails at build with the report.
"""
import math

import pytest
from harness import ROOT, captured_log, run_downstream
from tiny_seg import build_segmentor, tiny_ade_cfg

from mmmim.converters import ConversionError

CONFIG_DIR = ROOT / 'configs/benchmarks/mmsegmentation/ade20k'
UPERNET = sorted(CONFIG_DIR.glob('*.py'))
#: config -> (pretraining family, classifier family, converter target)
FAMILY = {
    'vit-base-p16-mae_upernet_8xb2-ld0.65-160k_ade20k-512x512.py': ('vit', 'vit', 'mmseg'),
    'vit-base-p16-localmim_upernet_8xb2-lr4e-4-ld0.65-160k_ade20k-512x512.py':
        ('localmim', 'vit', 'mmseg'),
    'swin-tiny-patch4-window7_upernet_8xb2-160k_ade20k-512x512.py': ('swin', 'swin', 'mmseg'),
    'swin-base-patch4-window7_upernet_8xb2-160k_ade20k-512x512.py': ('swin', 'swin', 'mmseg'),
    'swin-tiny-patch4-window16-ummae_upernet_8xb2-160k_ade20k-512x512.py':
        ('swin', 'swin', 'mmseg'),
    'pvt-small_upernet_8xb2-160k_ade20k-512x512.py': ('pvt', 'pvt', 'mmdet'),
}


@pytest.fixture(scope='session')
def tiny_ade(tmp_path_factory):
    from mimbench.tiny_data.ade import write_tiny_ade
    root = tmp_path_factory.mktemp('tiny_ade')
    write_tiny_ade(root)
    return root


def test_upernet_configs__all_covered():
    assert sorted(p.name for p in UPERNET) == sorted(FAMILY)


def converter_of(config) -> str:
    family, _, target = FAMILY[config.name]
    return f"[{'vit' if family == 'localmim' else family}->{target}] load report into"


@pytest.mark.parametrize('config', UPERNET, ids=[p.stem.split('_')[0] for p in UPERNET])
def test_upernet__tiny_loads_trains_two_iters_and_computes_miou(
        config, tiny_ade, pretraining_checkpoint, tmp_path):
    run = run_downstream(tiny_ade_cfg(config, pretraining_checkpoint(FAMILY[config.name][0]),
                                      tiny_ade, tmp_path))
    assert converter_of(config) in run.log
    assert 'mmmim pretraining checkpoint (encoder.*)' in run.log
    assert 'status: OK, backbone fully loaded' in run.log
    assert 'layer-wise lr decay' in run.log  # the constructor logged its groups
    assert len(run.losses) == 2 and run.finite_losses(), run.losses
    assert {'decode.loss_ce', 'aux.loss_ce'} <= set(run.losses[0]), run.losses[0]
    assert len(run.grad_norms) == 2 and run.backbone_grads_finite_and_nonzero()
    n_backbone = sum(p.requires_grad for p in run.model.backbone.parameters())
    assert len(run.grad_norms[0]) == n_backbone  # every backbone parameter got one
    assert 'mIoU' in run.metrics and not math.isnan(run.metrics['mIoU'])
    assert 0 <= run.metrics['mIoU'] <= 100, run.metrics


def test_upernet__mae_layer_decay_groups_follow_the_blocks(tiny_ade, pretraining_checkpoint,
                                                          tmp_path):
    """mmseg MAE names (``layers.i``, ``patch_embed``, ``pos_embed``) get their depth:
    the last block 0.65, the stem 0.65 ** (blocks + 1), heads 1; no weight decay on
    positions, tokens, relative position tables, norms and biases."""
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    config = CONFIG_DIR / 'vit-base-p16-mae_upernet_8xb2-ld0.65-160k_ade20k-512x512.py'
    cfg = tiny_ade_cfg(config, pretraining_checkpoint('vit'), tiny_ade, tmp_path)
    model = build_segmentor(cfg.model)
    init_default_scope('mmseg')
    groups = build_optim_wrapper(model, cfg.optim_wrapper).optimizer.param_groups
    lr, blocks = cfg.optim_wrapper.optimizer.lr, len(model.backbone.layers)
    by_name = {n: g for g in groups for n, p in model.named_parameters()
               if any(p is q for q in g['params'])}
    scale = lambda name: by_name[name]['lr'] / lr
    assert math.isclose(scale('decode_head.conv_seg.weight'), 1.0)
    assert math.isclose(scale(f'backbone.layers.{blocks - 1}.attn.qkv.weight'), 0.65)
    assert math.isclose(scale('backbone.layers.0.attn.qkv.weight'), 0.65 ** blocks)
    assert math.isclose(scale('backbone.patch_embed.projection.weight'), 0.65 ** (blocks + 1))
    for name in ('backbone.pos_embed', 'backbone.cls_token', 'backbone.layers.0.gamma_1',
                 'backbone.layers.0.attn.relative_position_bias_table',
                 'backbone.layers.0.ln1.weight', 'backbone.layers.0.attn.qkv.bias'):
        assert by_name[name]['weight_decay'] == 0, name
    assert by_name['backbone.layers.0.attn.qkv.weight']['weight_decay'] == 0.05


@pytest.mark.parametrize('config', UPERNET, ids=[p.stem.split('_')[0] for p in UPERNET])
def test_upernet__tiny_loads_a_finetuned_classifier_checkpoint(
        config, tiny_ade, classifier_checkpoint, tmp_path):
    cfg = tiny_ade_cfg(config, classifier_checkpoint(FAMILY[config.name][1]), tiny_ade,
                       tmp_path)
    with captured_log() as messages:
        build_segmentor(cfg.model)
    log = '\n'.join(messages)
    assert converter_of(config).replace('localmim', 'vit') in log
    assert 'mmpretrain / mmselfsup model (backbone.*)' in log
    assert 'head (task specific)' in log
    assert 'status: OK, backbone fully loaded' in log


@pytest.mark.parametrize('config, wrong', [
    ('vit-base-p16-mae_upernet_8xb2-ld0.65-160k_ade20k-512x512.py', 'swin'),
    ('swin-tiny-patch4-window7_upernet_8xb2-160k_ade20k-512x512.py', 'vit'),
    ('pvt-small_upernet_8xb2-160k_ade20k-512x512.py', 'swin'),
])
def test_upernet__checkpoint_of_another_family_fails_at_build(
        config, wrong, tiny_ade, pretraining_checkpoint, tmp_path):
    cfg = tiny_ade_cfg(CONFIG_DIR / config, pretraining_checkpoint(wrong), tiny_ade, tmp_path)
    with pytest.raises(ConversionError) as error:
        build_segmentor(cfg.model)
    message = str(error.value)
    assert 'load report into' in message and 'FAILED, backbone did not load' in message


def test_upernet__without_a_checkpoint_fails_at_build_naming_the_key(tiny_ade, tmp_path):
    config = CONFIG_DIR / 'swin-tiny-patch4-window7_upernet_8xb2-160k_ade20k-512x512.py'
    cfg = tiny_ade_cfg(config, tmp_path / 'unused.pth', tiny_ade, tmp_path)
    cfg.model.init_cfg.checkpoint = None
    with pytest.raises(ValueError, match=r'set model\.init_cfg\.checkpoint'):
        build_segmentor(cfg.model)
