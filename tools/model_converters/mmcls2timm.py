"""Convert an mm-style ViT checkpoint (mmmim pretraining ``encoder.*``, mmpretrain /
mmselfsup ``backbone.*``, or stripped keys) to timm keys, saved as
``{'model': state_dict}`` (loads into ``timm.create_model('vit_base_patch16_224')``).

    python tools/model_converters/mmcls2timm.py SRC DST [--format pth|safetensors]

DST ending in ``.safetensors`` (or ``--format safetensors``) writes the flat timm
keys with the load report as JSON in the safetensors metadata.

Prints the load report; exits with status 1, writing nothing, when the backbone did
not convert completely. ``convert.py`` does the same for every family and target.
"""
import argparse
import sys

import mmmim.converters as converters


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='mm-style ViT checkpoint')
    parser.add_argument('dst', help='timm checkpoint to write')
    parser.add_argument('--format', choices=converters.files.FORMATS,
                        help="default from DST's suffix")
    args = parser.parse_args(argv)
    return converters.files.convert_file_cli(args.src, args.dst, 'timm', 'vit',
                                             fmt=args.format)


if __name__ == '__main__':
    sys.exit(main())
