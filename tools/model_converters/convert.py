"""Convert an mmmim (or mmpretrain-style) checkpoint for another library.

    python tools/model_converters/convert.py SRC DST --to timm|mmpretrain|mmdet|mmseg \
        [--family vit|swin|pvt] [--img-size H [W]] [--window-size W [W ...]]

Prints the load report (tensors matched, expected missing, dropped on purpose,
unexpected) and exits with status 1, writing nothing, when the backbone did not
convert completely.
"""
import argparse
import sys

import mmmim.converters as converters


def parse_args(argv=None):
    targets = sorted({n.split('->')[1] for n in converters.available_converters()})
    families = sorted({n.split('->')[0] for n in converters.available_converters()})
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='checkpoint to convert (mmmim pretraining, '
                        'mmpretrain / mmselfsup, or stripped backbone keys)')
    parser.add_argument('dst', help='where to write the converted checkpoint')
    parser.add_argument('--to', required=True, choices=targets, help='target library')
    parser.add_argument('--family', choices=families,
                        help='backbone family (detected from the keys by default)')
    parser.add_argument('--img-size', type=int, nargs='+', metavar='SIZE',
                        help='target input size H [W]: resizes the absolute position '
                        'embedding to its patch grid')
    parser.add_argument('--window-size', type=int, nargs='+', metavar='W',
                        help='target window size (one, or one per stage): resizes '
                        'relative position bias tables (Swin)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    return converters.files.convert_file_cli(args.src, args.dst, args.to, args.family,
                                             img_size=args.img_size,
                                             window_size=args.window_size)


if __name__ == '__main__':
    sys.exit(main())
