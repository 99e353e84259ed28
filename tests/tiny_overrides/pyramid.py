"""Tiny overrides for pyramid (Swin, PVT) encoders and their decoders."""

TINY_SIZE = 128  # 8x8 units of 16 px / 4x4 of 32 px; compact stages 16/8/4/2


def tiny_swin(encoder: dict) -> None:
    """16-d, one block per stage, as many stages as the config's (the 64-px demo has
    three: its 8-px units need the last one at stride 16)."""
    arch = encoder.get('arch')
    stages = len(arch['depths']) if isinstance(arch, dict) else 4
    encoder.update(arch=dict(embed_dims=16, depths=[1] * stages,
                             num_heads=[1, 2, 2, 4][:stages]),
                   img_size=TINY_SIZE, window_size=4, input_size=TINY_SIZE)
    if stages != 4:
        encoder.update(out_indices=(stages - 1,))


def tiny_pvt(encoder: dict) -> None:
    encoder.update(embed_dims=8, num_layers=[1, 1, 1, 1], num_heads=[1, 2, 2, 4],
                   pretrain_img_size=TINY_SIZE, input_size=TINY_SIZE)


def tiny_ummae_decoder(decoder: dict) -> None:
    decoder.update(dims=32, depth=1, num_heads=2)


OVERRIDES = {'MaskedSwin': tiny_swin, 'MaskedPVT': tiny_pvt,
             'UMMAEDecoder': tiny_ummae_decoder}
