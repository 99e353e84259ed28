"""Tiny overrides for LocalMIM's multi-level models and decoders."""
import re


def tiny_localmim_decoder(decoder: dict) -> None:
    decoder.update(dims=32, depth=1, num_heads=2)


def tiny_block_taps(model: dict) -> None:
    """The tiny ViT has 4 blocks: the k-th ``block{i}`` tap becomes ``block{k}``."""
    block_levels = [lv for lv in model['levels'] if re.fullmatch(r'block\d+', lv['tap'])]
    for k, level in enumerate(block_levels):
        level['tap'] = f'block{k}'


OVERRIDES = {'LocalMIMDecoder': tiny_localmim_decoder,
             'MultiLevelMaskedImageModel': tiny_block_taps}
