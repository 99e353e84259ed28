"""Tiny overrides for columnar (ViT) models."""


def tiny_vit(encoder: dict) -> None:
    encoder['arch'] = dict(embed_dims=32, num_layers=4, num_heads=2, feedforward_channels=64)
    encoder['img_size'] = 64
    encoder['input_size'] = 64


def tiny_mae_decoder(decoder: dict) -> None:
    decoder.update(dims=32, depth=1, num_heads=2)


OVERRIDES = {'MaskedViT': tiny_vit, 'MAEDecoder': tiny_mae_decoder}
