"""Helpers shared by the converter tests (imported as ``test_converters.helpers``)."""
import torch
from mmengine.registry import init_default_scope
from test_models.tiny import TINY_VIT, tiny_mae_cfg

import mmmim.converters  # noqa: F401  (registers converters and MIMPretrained)
import mmmim.models  # noqa: F401
from mmmim.registry import MODELS

IMAGE = 64
TINY = dict(TINY_VIT)


def tiny_pretrained_model(secondary_token: bool = False, seed: int = 0):
    """A tiny MaskedImageModel whose every tensor is non-trivial (biases, norms and
    tokens are perturbed so that a tensor lost in conversion changes features)."""
    init_default_scope('mmmim')
    torch.manual_seed(seed)
    cfg = tiny_mae_cfg(IMAGE)
    cfg['encoder']['secondary_token'] = secondary_token
    model = MODELS.build(cfg)
    model.init_weights()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model.eval()


def tiny_timm_vit(**kw):
    """timm's VisionTransformer with the tiny encoder's dimensions."""
    from timm.models.vision_transformer import VisionTransformer
    return VisionTransformer(img_size=IMAGE, patch_size=16, embed_dim=TINY['embed_dims'],
                             depth=TINY['num_layers'], num_heads=TINY['num_heads'],
                             mlp_ratio=TINY['feedforward_channels'] / TINY['embed_dims'],
                             num_classes=10, **kw).eval()


def import_mmseg_mae():
    """mmseg's MAE backbone class (mmseg.utils needs ftfy and regex, which
    requirements/runtime.txt installs)."""
    from mmseg.models.backbones import MAE
    return MAE
