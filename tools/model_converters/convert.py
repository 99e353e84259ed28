"""Convert an mmmim (or mmpretrain-style) checkpoint for another library, or import a
released pretraining checkpoint (encoder and decoder) into an mmmim model.

    python tools/model_converters/convert.py SRC DST --to timm|mmpretrain|mmdet|mmseg \
        [--family vit|swin|pvt] [--img-size H [W]] [--window-size W [W ...]] \
        [--format pth|safetensors]
    python tools/model_converters/convert.py SRC DST --to mmmim --config CONFIG \
        [--source mae-official|mae-mmpretrain|...] [--cfg-options KEY=VALUE ...]

Prints the load report (tensors matched, expected missing, dropped on purpose,
unexpected) and exits with status 1, writing nothing, when the backbone did not
convert completely (``--to mmmim``: when the encoder or a decoder did not load).
"""
import argparse
import sys

import mmmim.converters as converters
from mmmim.converters.imports import TARGET, import_file_cli, import_sources


def parse_args(argv=None):
    names = converters.available_converters()
    targets = sorted({n.split('->')[1] for n in names})
    families = sorted({n.split('->')[0] for n in names if not n.endswith(f'->{TARGET}')})
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='checkpoint to convert (mmmim pretraining, '
                        'mmpretrain / mmselfsup, or stripped backbone keys; with --to '
                        'mmmim a released pretraining checkpoint)')
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
    parser.add_argument('--config', help='--to mmmim: the pretraining config whose model '
                        'receives the weights')
    parser.add_argument('--source', choices=import_sources(),
                        help='--to mmmim: layout of SRC (detected from the keys by default)')
    parser.add_argument('--cfg-options', nargs='+', metavar='KEY=VALUE',
                        help='--to mmmim: overrides of the config')
    parser.add_argument('--format', choices=converters.files.FORMATS,
                        help='file format: pth (torch.save) or safetensors (flat '
                        'tensors, the load report as JSON in the metadata); default '
                        'from DST\'s suffix')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.to == TARGET:
        from mmmim.config_loading import parse_cfg_options
        return import_file_cli(args.src, args.dst, args.config, args.source,
                               parse_cfg_options(args.cfg_options), args.format)
    return converters.files.convert_file_cli(args.src, args.dst, args.to, args.family,
                                             img_size=args.img_size,
                                             window_size=args.window_size,
                                             fmt=args.format)


if __name__ == '__main__':
    sys.exit(main())
