"""The digits pyramid runs probed with one encoder architecture: UM-MAE's compact grid
is half the image's side, so its Swin's last stage (4x4 tokens on a full 32-px digit,
2x2 on the compact grid) is built with window 2 where SimMIM's has window 4; the
in-run probe (``LinearProbeLoop``) uses the encoder as pretrained, so UM-MAE's and
SimMIM's probes, even at the random init, are of two architectures.

    python tools/experiments/digits_window_probe.py --work-dir work_dirs/digits_claims \\
        [--methods ummae simmim localmim-ummae pixmim-ummae] [--data data/digits]

For every finished ``<work-dir>/<method>/seed<S>`` run of a pyramid method this probes
its random init (rebuilt from the run's config and seed) and its last checkpoint
twice: as pretrained, and moved into the SimMIM digits encoder (window 4 in every
stage; relative position bias tables resized bicubically, as a fine-tune's
``MIMPretrained`` does). The rebuilt init's probe as pretrained is printed beside
the run's logged one: equal when the rebuild reproduces the run's init. The probe
is the runs' own (:class:`~mmmim.engine.LinearProbeLoop` features,
:class:`~mmmim.engine.LinearProbeMetric`: all labels, and 10 per class).
"""
import argparse
import sys
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import torch
from mmengine.runner import Runner, set_random_seed

from mmmim.config_loading import build_model_from_cfg, config_scope, load_config
from mmmim.engine.linear_probe_check import LinearProbeLoop, LinearProbeMetric
from mmmim.models.pos_embed import resize_rel_pos_bias_table

sys.path.insert(0, str(Path(__file__).resolve().parent))
import digits_claims  # noqa: E402

PYRAMID_METHODS = ('ummae', 'simmim', 'localmim-ummae', 'pixmim-ummae')
FULL_WINDOW_CONFIG = digits_claims.CONFIGS / digits_claims.METHODS['simmim']


def digits_config(path: Path, data_root: str):
    """The config at ``path`` with its three loaders pointed at ``data_root``."""
    options = dict(option.split('=', 1) for option in digits_claims.data_options(data_root))
    return load_config(str(path), options)


def run_config(run_dir: Path, data_root: str):
    """The config ``tools/train.py`` dumped into ``run_dir``, pointed at ``data_root``."""
    dumped = sorted(run_dir.glob('*_digits.py'))
    if not dumped:
        raise FileNotFoundError(f'no dumped *_digits.py config in {run_dir}')
    return digits_config(dumped[-1], data_root)


def last_checkpoint(run_dir: Path) -> Path:
    """``run_dir/epoch_N.pth`` of the largest N."""
    found = sorted(run_dir.glob('epoch_*.pth'), key=lambda p: int(p.stem.split('_')[1]))
    if not found:
        raise FileNotFoundError(f'no epoch_*.pth in {run_dir}')
    return found[-1]


def into_full_windows(encoder_state: Dict[str, torch.Tensor], full: torch.nn.Module) -> None:
    """Load a pretrained pyramid encoder's ``encoder_state`` into ``full`` (the SimMIM
    digits encoder), resizing each relative position bias table to ``full``'s window;
    the relative position indices are ``full``'s own (buffers of its window). Raises
    when a weight other than the masking tokens is missing or left over."""
    target = full.state_dict()
    moved = {}
    for key, value in encoder_state.items():
        if key.endswith('relative_position_index') or key not in target:
            continue
        if key.endswith('relative_position_bias_table') and value.shape != target[key].shape:
            side = int(round((target[key].shape[0]) ** 0.5))
            value = resize_rel_pos_bias_table(value, ((side + 1) // 2, (side + 1) // 2))
        moved[key] = value
    missing, unexpected = full.load_state_dict(moved, strict=False)
    missing = [k for k in missing if not k.endswith(('relative_position_index', 'mask_token'))]
    left = [k for k in encoder_state if k not in target
            and not k.endswith(('secondary_token', 'mask_token'))]
    if missing or unexpected or left:
        raise RuntimeError(f'full-window encoder: missing {missing}, unexpected '
                           f'{unexpected}, not moved {left}')


def probe(model, loaders) -> Dict[str, float]:
    """The runs' probe of ``model.encoder``: ``dict(all=top-1, few=10 per class)``."""
    model.eval()
    results = []
    with torch.no_grad():
        for split, loader in loaders:
            for batch in loader:
                results.extend(LinearProbeLoop.features_of(model, batch, split))
    scores = LinearProbeMetric(per_class=10).compute_metrics(results)
    return dict(all=scores['top1'], few=scores['top1_10_per_class'])


def probe_run(run_dir: Path, seed: int, data_root: str, full_model, loaders) -> dict:
    """Init and last checkpoint of one run, each as pretrained and in full windows."""
    cfg = run_config(run_dir, data_root)
    logged = digits_claims.read_curve(run_dir)
    row = dict(logged_init=logged[0]['all'], logged_final=logged[-1]['all'])
    with config_scope(cfg):
        set_random_seed(seed)
        model = build_model_from_cfg(cfg)
    for stage, state in (('init', None), ('final', last_checkpoint(run_dir))):
        if state is not None:
            checkpoint = torch.load(state, map_location='cpu', weights_only=False)
            model.load_state_dict(checkpoint['state_dict'])
        row[f'{stage}_own'] = probe(model, loaders)['all']
        into_full_windows(model.encoder.state_dict(), full_model.encoder)
        row[f'{stage}_full'] = probe(full_model, loaders)['all']
    return row


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/digits_claims')
    parser.add_argument('--methods', nargs='+', default=list(PYRAMID_METHODS),
                        choices=PYRAMID_METHODS)
    parser.add_argument('--data', default='data/digits')
    parser.add_argument('--cpu-budget', type=float, default=600.,
                        help='the runs\' budget: unfinished runs are left out')
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    data_root = str(Path(args.data).resolve())
    full_cfg = digits_config(FULL_WINDOW_CONFIG, data_root)
    with config_scope(full_cfg):
        full_model = build_model_from_cfg(full_cfg)
        loaders = [(split, Runner.build_dataloader(loader, seed=0)) for split, loader in
                   (('fit', full_cfg.val_cfg.fit_dataloader),
                    ('eval', full_cfg.val_dataloader))]
    print('| method | seed | init: logged | init: rebuilt, as pretrained | '
          'init: full windows | final: logged | final: as pretrained | '
          'final: full windows |')
    print('|---|---|---|---|---|---|---|---|')
    rows: Dict[str, List[dict]] = {}
    work_root = Path(args.work_dir)
    for method in args.methods:
        for run_dir in sorted((work_root / method).glob('seed*')):
            seed = int(run_dir.name[4:])
            if not digits_claims.finished(run_dir, args.cpu_budget):
                continue
            row = probe_run(run_dir, seed, data_root, full_model, loaders)
            rows.setdefault(method, []).append(row)
            print(f'| {method} | {seed} | {row["logged_init"]:.4f} | {row["init_own"]:.4f} | '
                  f'{row["init_full"]:.4f} | {row["logged_final"]:.4f} | '
                  f'{row["final_own"]:.4f} | {row["final_full"]:.4f} |', flush=True)
    print('\nmean over seeds (full windows): method: init -> final (gain)')
    for method, method_rows in rows.items():
        init = np.mean([r['init_full'] for r in method_rows])
        final = np.mean([r['final_full'] for r in method_rows])
        print(f'- {method}: {init:.4f} -> {final:.4f} ({final - init:+.4f}), '
              f'{len(method_rows)} seeds')


if __name__ == '__main__':
    main()
