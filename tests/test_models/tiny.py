"""Tiny model settings shared by the model tests."""
TINY_VIT = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)


def tiny_mae_cfg(image_size: int = 64, **overrides) -> dict:
    """A MaskedImageModel config with a 2-block ViT and a 1-block decoder."""
    cfg = dict(
        type='MaskedImageModel',
        masker=dict(type='RandomMasker', ratio=0.75, unit_size=16),
        encoder=dict(type='MaskedViT', arch=TINY_VIT, img_size=image_size, patch_size=16),
        decoder=dict(type='MAEDecoder', dims=32, depth=1, num_heads=2),
        target=dict(type='PixelTarget', patch_size=16),
    )
    cfg.update(overrides)
    return cfg
