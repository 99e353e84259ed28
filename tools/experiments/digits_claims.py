"""Each paper's claim at small scale: the digits configs trained by tools/train.py for the
same CPU time, probed along the way, and the claims checked from the runs' logs.

    python tools/dataset_converters/make_digits_folder.py data/digits
    python tools/experiments/digits_claims.py --cpu-budget 600 --seeds 0 1 2 \\
        --work-dir work_dirs/digits_claims        # 7 methods x 3 seeds x 600 CPU s
    python tools/experiments/digits_claims.py --report-only --work-dir work_dirs/digits_claims

1. each method is one config of ``configs/digits/`` (:data:`METHODS`), trained by
   ``tools/train.py`` in a subprocess (one torch thread by default) with
   ``--cfg-options randomness.seed=S`` and the CPU budget of its ``CPUBudgetHook``;
2. the schedule is fitted to the budget: a calibration run per method (3 epochs, no
   probe, seed 0) measures the CPU seconds of an epoch; the run gets
   ``max_epochs = ceil(1.1 x budget / epoch cost)`` and 10% of them as warm-up, so the
   budget stops it near the end of its cosine (lr about 2% of its peak), and ``--evals``
   probes evenly spaced over the epochs (plus the random init and the stop); a run
   that runs out of epochs first (the 3 epochs overestimated the cost: seen up to 19%)
   replaces the calibration with its own epoch cost and is run again;
3. the probe (``LinearProbeLoop``) and the CPU clock (``CPUBudgetHook``, which leaves the
   probes out) are logged to each run's ``vis_data/scalars.json``; the report reads the
   curves there: final probe per method (mean ± half-range over seeds) and the claims
   of :data:`CLAIMS`.
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / 'configs' / 'digits'
METHODS = {
    'mae': 'mae_vit-d64-p4_1xb128_digits.py',
    'pixmim': 'pixmim_vit-d64-p4_1xb128_digits.py',
    'localmim': 'localmim_vit-d64-p4_1xb128_digits.py',
    'ummae': 'ummae_swin-d32-w4_1xb128_digits.py',
    'simmim': 'simmim_swin-d32-w4_1xb128_digits.py',
    'localmim-ummae': 'localmim-ummae_swin-d32-w4_1xb128_digits.py',
    'pixmim-ummae': 'pixmim-ummae_swin-d32-w4_1xb128_digits.py',
}
CALIBRATION_EPOCHS = 3   # the first one decodes the images into the cache: not counted
OVERSHOOT = 1.1          # max_epochs x epoch cost = this x budget
RECALIBRATED = 'epoch_cost.json'  # a calibration corrected by a whole run (recalibrate)
MAX_RUNS_PER_SEED = 3    # the first, and up to two after a recalibration


# ---------------------------------------------------------------- running
def budget_hook_index(config: Path) -> int:
    """Position of the ``CPUBudgetHook`` in the config's ``custom_hooks``."""
    from mmengine.config import Config
    hooks = Config.fromfile(str(config)).custom_hooks
    return next(i for i, h in enumerate(hooks) if h['type'] == 'CPUBudgetHook')


def data_options(data_root: str) -> List[str]:
    """``--cfg-options`` pointing the three loaders (train, probe fit, probe val) at
    ``data_root``."""
    return [f'{key}.dataset.data_root={data_root}' for key in
            ('train_dataloader', 'val_dataloader', 'val_cfg.fit_dataloader')]


def train(config: Path, work_dir: Path, options: Sequence[str], threads: int) -> None:
    """``tools/train.py config --work-dir work_dir --cfg-options options`` in a
    subprocess with ``threads`` torch threads; its output goes to ``work_dir/train.out``."""
    work_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
               CUDA_VISIBLE_DEVICES='')
    command = [sys.executable, str(ROOT / 'tools' / 'train.py'), str(config),
               '--work-dir', str(work_dir), '--cfg-options', *options]
    with open(work_dir / 'train.out', 'w') as out:
        done = subprocess.run(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode:
        raise RuntimeError(f'{" ".join(command)} failed ({done.returncode}); see '
                           f'{work_dir / "train.out"}')


def scalars(work_dir: Path) -> List[dict]:
    """The entries of the run's latest ``<timestamp>/vis_data/scalars.json``."""
    found = sorted(work_dir.glob('*/vis_data/scalars.json'))
    if not found:
        raise FileNotFoundError(f'no */vis_data/scalars.json under {work_dir}')
    return [json.loads(line) for line in found[-1].read_text().splitlines() if line.strip()]


def epoch_cost(entries: List[dict]) -> float:
    """CPU seconds of one epoch after the first: per-epoch train log entries' ``cpu_s``."""
    by_epoch = {e['epoch']: e['cpu_s'] for e in entries if 'epoch' in e and 'cpu_s' in e}
    last = max(by_epoch)
    if last < 2:
        raise ValueError(f'need 2+ logged epochs to measure one, got {sorted(by_epoch)}')
    return (by_epoch[last] - by_epoch[1]) / (last - 1)


def finished(work_dir: Path, budget: float, epochs: Optional[int] = None) -> bool:
    """Whether ``work_dir`` holds a run that went to its end: a probe at ``budget`` CPU
    seconds or more, or at epoch ``epochs`` (the runs stop at whichever comes first)."""
    try:
        last = read_curve(work_dir)[-1]
    except (FileNotFoundError, ValueError):
        return False
    return last['cpu_s'] >= budget or (epochs is not None and last['epoch'] >= epochs)


def calibrate(method: str, work_dir: Path, data_root: str, threads: int) -> float:
    """CPU seconds per epoch of ``method``: a short run without the probe. A calibration
    already under ``work_dir`` is reused (its :data:`RECALIBRATED` correction first),
    so that a resumed or split experiment gives every seed of a method one schedule."""
    if (work_dir / RECALIBRATED).is_file():
        return float(json.loads((work_dir / RECALIBRATED).read_text())['cpu_s_per_epoch'])
    try:
        return epoch_cost(scalars(work_dir))
    except (FileNotFoundError, ValueError, KeyError):
        pass
    config = CONFIGS / METHODS[method]
    hook = f'custom_hooks.{budget_hook_index(config)}'
    train(config, work_dir, [
        *schedule_options(CALIBRATION_EPOCHS, val_interval=CALIBRATION_EPOCHS + 1),
        f'{hook}.validate_at_start=False', f'{hook}.validate_at_end=False',
        'default_hooks.checkpoint.save_last=False', *data_options(data_root)], threads)
    return epoch_cost(scalars(work_dir))


def recalibrate(run_dir: Path, work_dir: Path) -> float:
    """The epoch cost measured over a whole run that ran out of epochs before its
    budget (the short calibration overestimated it), written to
    ``work_dir/``:data:`RECALIBRATED` for the method's later seeds and returned."""
    cost = epoch_cost(scalars(run_dir))
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / RECALIBRATED).write_text(json.dumps(
        dict(cpu_s_per_epoch=cost, measured_on=str(run_dir))))
    return cost


def budget_epochs(budget: float, cost: float) -> int:
    """Epochs of ``cost`` CPU seconds that take :data:`OVERSHOOT` x ``budget``."""
    return max(2, math.ceil(OVERSHOOT * budget / cost))


def schedule_options(epochs: int, val_interval: int) -> List[str]:
    """``--cfg-options`` of an ``epochs`` run: 10% warm-up, then the cosine to the end;
    a probe every ``val_interval`` epochs."""
    warm = max(1, round(epochs / 10))
    return [f'train_cfg.max_epochs={epochs}', f'param_scheduler.0.end={warm}',
            f'param_scheduler.1.begin={warm}', f'train_cfg.val_interval={val_interval}']


def run_all(methods: Sequence[str], seeds: Sequence[int], budget: float, evals: int,
            work_root: Path, data_root: str, threads: int, log=print) -> None:
    """Calibrate each method, then train every method x seed into
    ``work_root/<method>/seed<S>``; runs that already finished are kept, so an
    interrupted experiment resumes and two drivers can share one ``work_root`` (with
    disjoint methods, or a method calibrated before both start). A run that runs out
    of epochs before its budget (the calibration overestimated the epoch cost) gives
    the method a new epoch cost (:func:`recalibrate`) and is run again, and so is any
    earlier seed that ended short of the new schedule: every run ends at its budget."""
    for method in methods:
        config = CONFIGS / METHODS[method]
        calibration = work_root / method / 'calibration'
        cost = calibrate(method, calibration, data_root, threads)
        for seed in seeds:
            run_dir = work_root / method / f'seed{seed}'
            for attempt in range(MAX_RUNS_PER_SEED):
                epochs = budget_epochs(budget, cost)
                schedule = schedule_options(epochs, val_interval=max(1, epochs // evals))
                if finished(run_dir, budget, epochs):
                    log(f'{method} seed {seed}: finished run found ({run_dir})')
                else:
                    log(f'{method} seed {seed}: {cost:.2f} CPU s / epoch -> '
                        f'{" ".join(schedule)}')
                    shutil.rmtree(run_dir, ignore_errors=True)  # no stale checkpoint
                    train(config, run_dir, [
                        f'randomness.seed={seed}',
                        f'custom_hooks.{budget_hook_index(config)}.cpu_seconds={budget}',
                        *schedule, *data_options(data_root)], threads)
                curve = read_curve(run_dir)
                log(f'{method} seed {seed}: probe {curve[-1]["all"]:.4f} at '
                    f'{curve[-1]["cpu_s"]:.0f} CPU s (random init {curve[0]["all"]:.4f})')
                if curve[-1]['cpu_s'] >= budget or attempt == MAX_RUNS_PER_SEED - 1:
                    break
                cost = recalibrate(run_dir, calibration)  # out of epochs: run it again
                log(f'{method} seed {seed}: out of epochs before the budget; the run\'s '
                    f'epoch cost is the new calibration')


# ---------------------------------------------------------------- report
def few_label_score(entry: dict) -> float:
    """The entry's ``probe/top1_<k>_per_class`` (NaN without one)."""
    return next((v for k, v in entry.items()
                 if k.startswith('probe/top1_') and k.endswith('_per_class')), float('nan'))


def read_curve(work_dir: Path) -> List[dict]:
    """The run's probe points: ``epoch``, ``cpu_s`` (training CPU time at the probe),
    ``iter`` and ``loss`` (of the last train log entry before it), ``all`` (top-1 with
    every label) and ``few`` (k labels per class; the configs' k is 10)."""
    points, last_train = [], dict(iter=0, loss=float('nan'))
    for entry in scalars(work_dir):
        if 'probe/top1' in entry:
            points.append(dict(epoch=entry['step'], cpu_s=entry['cpu_s'],
                               iter=last_train['iter'], loss=last_train['loss'],
                               all=entry['probe/top1'], few=few_label_score(entry)))
        elif 'loss' in entry:
            last_train = entry
    if not points:
        raise ValueError(f'no probe in {work_dir}')
    return points


def load_runs(work_root: Path) -> List[dict]:
    """``dict(method, seed, curve)`` of every ``work_root/<method>/seed<S>``."""
    runs = []
    for method in METHODS:
        for run_dir in sorted((work_root / method).glob('seed*')):
            if list(run_dir.glob('*/vis_data/scalars.json')):
                runs.append(dict(method=method, seed=int(run_dir.name[4:]),
                                 curve=read_curve(run_dir)))
    return runs


def spread(values: Sequence[float]) -> str:
    """``mean ± half-range`` over seeds."""
    values = np.asarray(values, dtype=float)
    if len(values) == 1:
        return f'{values[0]:.4f}'
    return f'{values.mean():.4f} ± {(values.max() - values.min()) / 2:.4f}'


def first_reaching(curve: List[dict], level: float, over_init: bool = False
                   ) -> Optional[dict]:
    """The first point of ``curve`` after the random init whose top-1 reaches ``level``
    (with ``over_init``: whose gain over the curve's own random init does)."""
    base = curve[0]['all'] if over_init else 0.
    return next((p for p in curve[1:] if p['all'] - base >= level - 1e-12), None)


def reach_ratios(fast: List[dict], slow: List[dict], over_init: bool = False
                 ) -> List[Optional[float]]:
    """Per seed both ran: CPU time at which ``fast`` first reaches ``slow``'s final probe
    (with ``over_init``: ``slow``'s final gain over its random init, as a gain over
    ``fast``'s own), over the CPU time ``slow`` took to get there (``None``: not within
    its budget)."""
    ratios = []
    slow_by_seed = {r['seed']: r for r in slow}
    for run in fast:
        other = slow_by_seed.get(run['seed'])
        if other is None:
            continue
        goal = other['curve'][-1]
        level = goal['all'] - other['curve'][0]['all'] if over_init else goal['all']
        hit = first_reaching(run['curve'], level, over_init)
        ratios.append(hit['cpu_s'] / goal['cpu_s'] if hit else None)
    return ratios


def reached_at_init(fast: List[dict], slow: List[dict]) -> List[int]:
    """Seeds at which ``fast``'s random init already probes at ``slow``'s final top-1:
    there the absolute criterion measures the two encoders' random features, not
    their pretraining."""
    final = {r['seed']: r['curve'][-1]['all'] for r in slow}
    return [r['seed'] for r in fast
            if r['seed'] in final and r['curve'][0]['all'] >= final[r['seed']] - 1e-12]


def epoch_cost_ratio(fast: List[dict], slow: List[dict]) -> Optional[float]:
    """Mean CPU seconds per pretraining epoch of ``fast`` over ``slow``'s (each run's
    stop: its CPU time over its epochs)."""
    def per_epoch(runs):
        return [r['curve'][-1]['cpu_s'] / r['curve'][-1]['epoch'] for r in runs
                if r['curve'][-1]['epoch']]
    a, b = per_epoch(fast), per_epoch(slow)
    return float(np.mean(a) / np.mean(b)) if a and b else None


def compare_final(a: List[dict], b: List[dict], over_init: bool = False) -> Optional[str]:
    """``a`` against ``b`` at the budget: difference of the mean final probes (with
    ``over_init``: of the mean gains over each run's random init) and whether it
    exceeds the seeds' spread (sum of the half-ranges)."""
    if not (a and b):
        return None

    def finals(runs):
        return [r['curve'][-1]['all'] - (r['curve'][0]['all'] if over_init else 0.)
                for r in runs]
    fa, fb = finals(a), finals(b)
    diff = float(np.mean(fa) - np.mean(fb))
    noise = sum((max(f) - min(f)) / 2 for f in (fa, fb))
    side = 'within the seeds\' spread' if abs(diff) <= noise else (
        'higher' if diff > 0 else 'lower')
    return f'{diff:+.4f} ({side}; spread {noise:.4f})'


def shown_ratios(ratios: Sequence[Optional[float]]) -> str:
    return ', '.join('not reached' if r is None else f'{r:.2f}' for r in ratios)


def reach_claim(fast: List[dict], slow: List[dict], claim: str, holds) -> Optional[str]:
    """One claim line: the CPU-time ratios to ``slow``'s final probe and to its gain
    over init, per seed, and the verdict: on the absolute probe, unless ``fast``'s
    random init already reaches it at some seed (then on the gain, and the line says
    why)."""
    absolute, gain = reach_ratios(fast, slow), reach_ratios(fast, slow, over_init=True)
    if not absolute:
        return None
    at_init = reached_at_init(fast, slow)
    judged = gain if at_init else absolute
    verdict = 'holds' if all(r is not None and holds(r) for r in judged) else \
        'does not hold'
    line = (f'- {claim}: CPU-time ratio per seed to the final probe {shown_ratios(absolute)}'
            f', to the final gain over the random init {shown_ratios(gain)}')
    cost = epoch_cost_ratio(fast, slow)
    if cost is not None:
        line += f'; CPU s per epoch ratio {cost:.2f}'
    if at_init:
        line += (f'; the random init already probes at the final top-1 for seed(s) '
                 f'{", ".join(map(str, at_init))}, so judged on the gain')
    return line + f' -> {verdict} on the digits.'


def claims_text(by_method: Dict[str, List[dict]]) -> List[str]:
    """One line per claim: the measurement and a verdict."""
    lines = []
    for fast, slow, claim, holds in (
            ('ummae', 'simmim', 'UM-MAE reaches SimMIM\'s probe in about half the CPU time',
             lambda r: r <= 0.6),
            ('localmim', 'mae', 'LocalMIM reaches MAE\'s probe in fewer CPU seconds',
             lambda r: r < 1)):
        line = reach_claim(by_method.get(fast, []), by_method.get(slow, []), claim, holds)
        if line:
            lines.append(line)
    for a, b, claim in (('pixmim', 'mae', 'PixMIM >= MAE at the same budget'),
                        ('localmim-ummae', 'ummae', 'LocalMIM decoders on UM-MAE vs UM-MAE'),
                        ('pixmim-ummae', 'ummae', 'PixMIM targets on UM-MAE vs UM-MAE')):
        compared = compare_final(by_method.get(a, []), by_method.get(b, []))
        if compared:
            gained = compare_final(by_method.get(a, []), by_method.get(b, []), over_init=True)
            lines.append(f'- {claim}: final probe difference {compared}; difference of the '
                         f'gains over the random init {gained}.')
    return lines


def report(runs: List[dict]) -> str:
    """Markdown: final probe vs random init per method (mean ± half-range over seeds;
    also the best probe after the init), every curve, then the claims."""
    by_method: Dict[str, List[dict]] = {}
    for r in runs:
        by_method.setdefault(r['method'], []).append(r)
    lines = ['| method | seeds | epochs | pretraining CPU s | random init: all | '
             'pretrained: all | best along the run: all | random init: 10/class | '
             'pretrained: 10/class |',
             '|---|---|---|---|---|---|---|---|---|']
    for method, rs in by_method.items():
        first, last = [r['curve'][0] for r in rs], [r['curve'][-1] for r in rs]
        best = [max(p['all'] for p in r['curve'][1:]) for r in rs]
        lines.append(
            f'| {method} | {",".join(str(r["seed"]) for r in rs)} | '
            f'{np.mean([p["epoch"] for p in last]):.0f} | '
            f'{np.mean([p["cpu_s"] for p in last]):.0f} | '
            f'{spread([p["all"] for p in first])} | {spread([p["all"] for p in last])} | '
            f'{spread(best)} | '
            f'{spread([p["few"] for p in first])} | {spread([p["few"] for p in last])} |')
    lines += ['', '| method | seed | epoch | iteration | CPU s | loss | all | 10/class |',
              '|---|---|---|---|---|---|---|---|']
    for r in runs:
        for p in r['curve']:
            lines.append(f'| {r["method"]} | {r["seed"]} | {p["epoch"]} | {p["iter"]} | '
                         f'{p["cpu_s"]:.0f} | {p["loss"]:.4f} | {p["all"]:.4f} | '
                         f'{p["few"]:.4f} |')
    return '\n'.join(lines + [''] + claims_text(by_method))


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--methods', nargs='+', default=list(METHODS), choices=list(METHODS))
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--cpu-budget', type=float, default=600.,
                        help='pretraining CPU seconds per run')
    parser.add_argument('--evals', type=int, default=10, help='probe points after the init')
    parser.add_argument('--data', default='data/digits',
                        help='the folder of tools/dataset_converters/make_digits_folder.py')
    parser.add_argument('--work-dir', default='work_dirs/digits_claims')
    parser.add_argument('--threads', type=int, default=1, help='torch CPU threads per run')
    parser.add_argument('--report-only', action='store_true',
                        help='only print the report of the runs under --work-dir')
    args = parser.parse_args(argv)
    work_root = Path(args.work_dir).resolve()
    if not args.report_only:
        run_all(args.methods, args.seeds, args.cpu_budget, args.evals, work_root,
                str(Path(args.data).resolve()), args.threads)
    print(report(load_runs(work_root)))


if __name__ == '__main__':
    main()
