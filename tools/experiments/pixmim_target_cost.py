"""PixMIM's model-side cost over MAE, measured in one process (docs/targets.md).

    python tools/experiments/pixmim_target_cost.py [--batch-sizes 8 32] [--rounds 5] \
        [--amp] [--threads T] [--json OUT] [--cfg-options k=v ...]

The MAE and PixMIM ViT-B configs build models that differ only in the target
(``model.target.filters``: PixMIM's ``LowPassFilter``; :func:`model_differences`
checks it), and ``MaskedImageModel.loss`` calls the target once per step. So
PixMIM's extra cost per step is its target's time minus MAE's. Each round times
PixMIM's ``model.target(inputs)``, then MAE's, on the same preprocessed photo batch
(the bench's, ``tools/mimbench``), under ``torch.no_grad`` (and bf16 autocast with
``--amp``, as the training forward runs), then one MAE train step (forward,
backward, optimizer step through the bench's optim wrapper) as the denominator.
Whole-step ratios on a loaded CPU are noise; this in-process difference is not.
"""
import argparse
import json
import logging
import statistics
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import torch

from mmmim.config_loading import (
    build_model_from_cfg,
    config_scope,
    load_config,
    parse_cfg_options,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tools/: mimbench
from mimbench.config import input_size  # noqa: E402
from mimbench.data import pack_batch, photo_batch  # noqa: E402
from mimbench.precision import build_benchmark_optim_wrapper  # noqa: E402

MAE = 'configs/mae/mae_vit-base-p16_8xb512-amp-coslr-400e_in1k.py'
PIXMIM = 'configs/pixmim/pixmim_vit-base-p16_8xb512-amp-coslr-300e_in1k.py'


def model_differences(a: dict, b: dict, prefix: str = 'model') -> List[str]:
    """Dotted keys where two model config dicts differ (``'model.target.filters'``)."""
    if not (isinstance(a, dict) and isinstance(b, dict)):
        return [] if a == b else [prefix]
    return [d for k in sorted(set(a) | set(b), key=str)
            for d in model_differences(a.get(k), b.get(k), f'{prefix}.{k}')]


def build(config: str, options: dict, amp: bool):
    """(cfg, model in train mode, the bench's optim wrapper at fp32 or bf16 autocast)."""
    cfg = load_config(config, options)
    with config_scope(cfg):
        torch.manual_seed(0)
        model = build_model_from_cfg(cfg).train()
        wrapper = build_benchmark_optim_wrapper(model, cfg, torch.bfloat16 if amp else None,
                                                'cpu')
        wrapper.initialize_count_status(model, 0, 1 << 20)
    return cfg, model, wrapper


def timed(fn) -> float:
    """Seconds one call of ``fn`` takes."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(batch_size: int, rounds: int, amp: bool = False,
            options: Optional[dict] = None, image_size: Optional[int] = None) -> Dict:
    """Per-round seconds of PixMIM's and MAE's targets on one preprocessed batch
    ``inputs`` [B, 3, H, W] (-> targets [B, L, 16*16*3]) and of one MAE train step,
    after one untimed warm-up of each; medians, and the extra time as a share."""
    options = options or {}
    cfg, mae, wrapper = build(MAE, options, amp)
    pix_cfg, pixmim, _ = build(PIXMIM, options, amp)
    batch = pack_batch(cfg, photo_batch(batch_size, input_size(cfg, image_size)))
    with torch.no_grad():
        inputs = mae.data_preprocessor(dict(batch), True)['inputs']  # [B, 3, H, W]
    autocast = (lambda: torch.autocast('cpu', dtype=torch.bfloat16)) if amp else nullcontext

    def target(model):
        with torch.no_grad(), autocast():
            model.target(inputs)

    def step():
        mae.train_step(dict(batch), wrapper)

    for fn in (lambda: target(pixmim), lambda: target(mae), step):  # warm-up
        fn()
    per_round = []
    for _ in range(rounds):
        pix, base = timed(lambda: target(pixmim)), timed(lambda: target(mae))
        per_round.append(dict(pixmim_target_s=pix, mae_target_s=base,
                              extra_s=pix - base, mae_step_s=timed(step)))
    extra = statistics.median(r['extra_s'] for r in per_round)
    step_s = statistics.median(r['mae_step_s'] for r in per_round)
    return dict(batch_size=batch_size, image_size=list(inputs.shape[-2:]),
                precision='bf16 autocast' if amp else 'fp32', rounds=per_round,
                median_extra_s=extra, median_step_s=step_s,
                share_percent=100 * extra / step_s,
                differences=model_differences(cfg.model.to_dict(), pix_cfg.model.to_dict()))


def report(result: Dict) -> None:
    """Print one batch size's medians and per-round figures."""
    print(f"batch {result['batch_size']}, {result['precision']}: PixMIM extra "
          f"{1e3 * result['median_extra_s']:.1f} ms / MAE step "
          f"{result['median_step_s']:.2f} s = {result['share_percent']:.2f}% "
          f"(differs: {', '.join(result['differences'])})")
    for i, r in enumerate(result['rounds']):
        print(f"  round {i}: PixMIM target {1e3 * r['pixmim_target_s']:.1f} ms, MAE "
              f"{1e3 * r['mae_target_s']:.1f} ms, extra {1e3 * r['extra_s']:.1f} ms, "
              f"step {r['mae_step_s']:.2f} s")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--batch-sizes', type=int, nargs='+', default=[8, 32])
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--amp', action='store_true', help='bf16 autocast')
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument('--image-size', type=int, default=None)
    parser.add_argument('--json', default=None)
    parser.add_argument('--cfg-options', nargs='+', default=None)
    args = parser.parse_args(argv)
    logging.getLogger('mmengine').setLevel(logging.WARNING)  # not the init/param lists
    if args.threads:
        torch.set_num_threads(args.threads)
    results = []
    for batch_size in args.batch_sizes:
        results.append(measure(batch_size, args.rounds, args.amp,
                               parse_cfg_options(args.cfg_options), args.image_size))
        report(results[-1])
    if args.json:
        Path(args.json).write_text(json.dumps(dict(threads=torch.get_num_threads(),
                                                   torch=torch.__version__,
                                                   results=results), indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
