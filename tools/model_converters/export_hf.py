"""Export an mmmim pretraining checkpoint as a folder timm (ViT, Swin) or Hugging Face
transformers (MAE ViT, encoder and decoder) loads offline.

    python tools/model_converters/export_hf.py CKPT OUT [--arch TIMM_ARCH] \
        [--config CONFIG] [--library timm|transformers] [--no-verify]

timm: OUT gets model.safetensors, config.json (architecture, model_args,
pretrained_cfg) and a README.md model card; load it with
``timm.create_model('local-dir:OUT', pretrained=True)``. transformers:
OUT is a ``ViTMAEForPreTraining`` folder (``from_pretrained(OUT)``). The pretraining
config is read from the checkpoint (mmengine stores it) unless --config is given.
The export is checked: the exported model's features (reconstructions for
transformers) must equal ours on random images. Exits with status 1 and says why
when the checkpoint cannot be exported.
"""
import argparse
import sys

from mmmim.checkpoint_io import CheckpointError
from mmmim.converters import export
from mmmim.converters.report import ConversionError


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('ckpt', help='mmmim pretraining checkpoint (.pth or .safetensors)')
    parser.add_argument('out', help='folder to write')
    parser.add_argument('--arch', help='timm architecture (default: '
                        + ', '.join(f'{v} for {k}' for k, v in export.DEFAULT_ARCH.items())
                        + '); the dimensions come from the checkpoint\'s config')
    parser.add_argument('--config', help='the pretraining config (default: the one '
                        'stored in the checkpoint)')
    parser.add_argument('--library', choices=('timm', 'transformers'), default='timm')
    parser.add_argument('--no-verify', action='store_true',
                        help='skip the feature / reconstruction comparison')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        if args.library == 'timm':
            done = export.export_timm(args.ckpt, args.out, args.arch, args.config,
                                      verify=not args.no_verify)
        else:
            from mmmim.converters import vitmae
            done = vitmae.export_vitmae(args.ckpt, args.out, args.config,
                                        verify=not args.no_verify)
    except (CheckpointError, ConversionError, export.ExportError, ImportError) as err:
        print(f'export failed: {err}', file=sys.stderr)
        return 1
    print(done.report.summary())
    for note in done.notes:
        print(f'note: {note}')
    if done.max_abs_diff is not None:
        verdict = 'equal ours' if done.exact else 'compared with ours (differ by design)'
        print(f'check: exported outputs {verdict} (max abs difference '
              f'{done.max_abs_diff:.2e})')
    print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
