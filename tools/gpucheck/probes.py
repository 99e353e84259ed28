"""Measurements of the GPU check that run inside the stack's python, one per fresh
process: ``python tools/gpucheck/probes.py NAME --out RECORD.json [options]``.

Each probe writes one JSON record. torch, mmcv and mmmim are imported inside the
probes, so the check's own process needs none of them.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
import warnings
from typing import Callable, Dict, List, Optional

ATTENTION_KERNEL = re.compile(r'flash|efficient|mem_eff|cudnn|fmha|scaled_dot_product|'
                              r'softmax', re.IGNORECASE)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOLS = os.path.join(ROOT, 'tools')  # the bench (mimbench) and install_key.py
if TOOLS not in sys.path:
    sys.path.insert(0, TOOLS)


def command_output(command: List[str]) -> Optional[str]:
    """stdout of ``command``, None when it is missing or fails."""
    if not shutil.which(command[0]):
        return None
    proc = subprocess.run(command, capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else None


def mmcv_ops_build() -> str:
    """What mmcv's compiled ops were built with: 'CUDA <version>', 'CPU only', or why
    there are none."""
    try:
        import mmcv  # noqa: F401
        from mmcv.ops import get_compiling_cuda_version
        version = get_compiling_cuda_version()
    except Exception as error:  # no mmcv, or mmcv without its compiled ops
        return f'no compiled ops ({type(error).__name__}: {str(error)[:120]})'
    return 'CPU only' if version == 'not available' else f'CUDA {version}'


def versions() -> Dict[str, Optional[str]]:
    """Versions of the stack's packages (None: not importable)."""
    found = {}
    for name in ('mmengine', 'mmcv', 'mmpretrain', 'mmdet', 'mmseg', 'timm', 'cv2',
                 'torchvision', 'skimage'):
        try:
            found[name] = __import__(name).__version__
        except Exception:
            found[name] = None
    return found


def ops_plan(mmcv_version: str, capability: str) -> dict:
    """tools/install_key.py's plan for building mmcv ``mmcv_version`` with CUDA ops for
    ``capability`` only: ``max_jobs`` (by CPUs and memory) and ``error`` (why the
    build cannot work, e.g. an nvcc of another CUDA major than torch's)."""
    try:
        from install_key import gather_facts, plan_build
        env = dict(os.environ, FORCE_CUDA='1', TORCH_CUDA_ARCH_LIST=capability)
        plan = plan_build(gather_facts(mmcv_version, env))
    except Exception as error:  # the plan is advice: the build can start without it
        return dict(max_jobs=None, error=None, unavailable=f'{type(error).__name__}: {error}')
    return dict(max_jobs=plan.max_jobs, error=plan.error, arch_list=plan.arch_list)


def probe_env(args: argparse.Namespace) -> dict:
    """Driver, GPU, torch and its CUDA, CPUs, /dev/shm, nvcc, the stack's versions, and
    (with a GPU) the plan for building mmcv's CUDA ops for it."""
    import torch
    record = dict(
        nvidia_smi=command_output(['nvidia-smi', '--query-gpu=name,driver_version,'
                                   'memory.total', '--format=csv,noheader']),
        torch=torch.__version__, torch_cuda=torch.version.cuda,
        cuda_available=torch.cuda.is_available(), nproc=os.cpu_count(),
        shm_gb=shutil.disk_usage('/dev/shm').total / 2**30 if os.path.isdir('/dev/shm')
        else None, nvcc=command_output(['nvcc', '--version']),
        python=sys.version.split()[0], versions=versions(), mmcv_ops=mmcv_ops_build(),
        torch_include=os.path.join(os.path.dirname(torch.__file__), 'include'))
    if record['cuda_available']:
        major, minor = torch.cuda.get_device_capability(0)
        record.update(device=torch.cuda.get_device_name(0), capability=f'{major}.{minor}',
                      bf16_native=major >= 8,  # Ampere and later have bf16 units
                      memory_gb=torch.cuda.get_device_properties(0).total_memory / 2**30,
                      ops_plan=ops_plan(args.mmcv, f'{major}.{minor}'))
    return record


def try_op(fn: Callable[[], object]) -> dict:
    """``{"ok": True, "value": ...}`` or ``{"ok": False, "error": ...}``."""
    try:
        return dict(ok=True, value=str(fn()))
    except Exception as error:
        return dict(ok=False, error=f'{type(error).__name__}: {str(error).splitlines()[0]}')


def probe_mmcv_ops(args: argparse.Namespace) -> dict:
    """RoIAlign at fp32 / fp16 / bf16 and NMS on CUDA tensors (checklist step 0)."""
    import torch
    from mmcv.ops import nms, roi_align
    feat = torch.randn(2, 8, 32, 32, device='cuda')
    rois = torch.tensor([[0., 1., 1., 20., 20.], [1., 4., 4., 30., 28.]], device='cuda')
    record = {}
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        record[f'roi_align_{str(dtype)[6:]}'] = try_op(lambda: tuple(roi_align(
            feat.to(dtype), rois.to(dtype), (7, 7), 1.0, 0, 'avg', True).shape))
    boxes = torch.rand(200, 4, device='cuda') * 100
    boxes[:, 2:] += boxes[:, :2]
    record['nms'] = try_op(lambda: nms(boxes, torch.rand(200, device='cuda'), 0.5)[1].numel())
    return record


def probe_ceiling(args: argparse.Namespace) -> dict:
    """The GPU's bf16 matmul ceiling (:func:`mimbench.matmul_ceiling` at
    a side that fills the chip)."""
    import torch

    from mimbench.measure import ceiling_size, matmul_ceiling
    flops = matmul_ceiling('cuda', torch.bfloat16, repeats=10)
    return dict(bf16_flops_per_s=flops, side=ceiling_size('cuda'))


def sync_sites(caught: List[warnings.WarningMessage]) -> List[str]:
    """``file:line`` of each synchronizing call that ``set_sync_debug_mode('warn')``
    reported, paths shortened to the package."""
    sites = []
    for w in caught:
        if 'synchroniz' not in str(w.message):
            continue
        path = re.sub(r'^.*?/(mmmim|mmengine|mmpretrain|mmdet|torch)/', r'\1/', w.filename)
        sites.append(f'{path}:{w.lineno}')
    return sites


def profiled_names(step: Callable[[], object], device: str) -> Dict[str, float]:
    """Event name -> total time (us) of one profiled ``step()``: on the GPU for CUDA
    (0 for host-only events), else on the CPU."""
    import torch
    from torch.profiler import ProfilerActivity, profile
    cuda = device.startswith('cuda')
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as prof:
        step()
        if cuda:
            torch.cuda.synchronize()
    times = {}
    for event in prof.key_averages():
        if cuda:  # renamed from cuda_time_total in torch 2.4
            us = getattr(event, 'device_time_total', getattr(event, 'cuda_time_total', 0))
        else:
            us = event.cpu_time_total
        times[event.key] = float(us)
    return times


def probe_step_profile(args: argparse.Namespace) -> dict:
    """One bf16 training step of ``--configs[0]`` at ``--batch`` on ``--device``: the
    host syncs it makes (``torch.cuda.set_sync_debug_mode('warn')``, CUDA only) and the
    attention kernels and ops it runs (torch.profiler), after two warm-up steps
    (checklist step 3)."""
    import torch

    from mimbench import build_benchmark_optim_wrapper, pack_batch, photo_batch
    from mimbench.config import input_size
    from mmmim.config_loading import build_model_from_cfg, config_scope, load_config
    cfg = load_config(args.configs[0])
    with config_scope(cfg):
        model = build_model_from_cfg(cfg).to(args.device).train()
        wrapper = build_benchmark_optim_wrapper(model, cfg, torch.bfloat16, args.device)
        wrapper.initialize_count_status(model, 0, 100)
        batch = pack_batch(cfg, photo_batch(args.batch, input_size(cfg)))

        def step():
            return model.train_step(dict(batch), wrapper)
        for _ in range(2):
            step()
        syncs = counted_syncs(step, args.device)
        times = profiled_names(step, args.device)
    attention = {k: v for k, v in times.items() if ATTENTION_KERNEL.search(k)}
    top = sorted(times.items(), key=lambda kv: -kv[1])[:8]
    return dict(config=args.configs[0], batch=args.batch, device=args.device, syncs=syncs,
                attention=attention, top_us=top)


def counted_syncs(step: Callable[[], object], device: str) -> List[str]:
    """The synchronizing calls of one ``step()`` on CUDA (:func:`sync_sites`); none
    are counted on the CPU."""
    import torch
    if not device.startswith('cuda'):
        step()
        return []
    torch.cuda.synchronize()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        torch.cuda.set_sync_debug_mode('warn')
        try:
            step()
        finally:
            torch.cuda.set_sync_debug_mode(0)
    return sync_sites(caught)


def probe_loader(args: argparse.Namespace) -> dict:
    """Images/s of the MAE config's train pipeline on the demo photographs with each
    ``--workers`` count (checklist step 5)."""
    from mmengine.runner import Runner

    from mmmim.config_loading import config_scope, load_config
    cfg = load_config(args.configs[0])
    inner = dict(cfg.train_dataloader.dataset, data_root=args.data, data_prefix='')
    record = {}
    with config_scope(cfg):
        for workers in args.workers:
            loader = Runner.build_dataloader(dict(
                cfg.train_dataloader, batch_size=args.batch, num_workers=workers,
                persistent_workers=False, sampler=dict(type='DefaultSampler', shuffle=True),
                dataset=dict(type='RepeatDataset', times=5000, dataset=inner)), seed=0)
            it = iter(loader)
            next(it)
            start, n = time.perf_counter(), 0
            for _ in range(args.iters):
                n += len(next(it)['inputs'])
            record[str(workers)] = n / (time.perf_counter() - start)
    return record


def probe_gpu_decode(args: argparse.Namespace) -> dict:
    """Images/s of the GPU-decode mode's device side (``decode_jpeg`` + crop + bicubic
    resize + flip of ``--batch`` JPEGs of ``--data``, crops drawn as
    RandomResizedCrop(224, (0.2, 1.0)) draws them) on ``--device``; the median of
    ``--iters`` timed batches after one warm-up batch."""
    import glob

    import numpy as np
    import torch
    from mmengine.dataset import pseudo_collate

    from mmmim.datasets import gpu_decode as gd
    files = sorted(glob.glob(os.path.join(args.data, '*.jpg')))
    if not files:
        raise FileNotFoundError(f'no JPEG files in {args.data}')
    steps = [gd.LoadImageBytes(), gd.DrawResizedCrop(224, crop_ratio_range=(0.2, 1.0)),
             gd.DrawFlip(0.5), gd.PackBytes()]
    np.random.seed(0)
    packed = []
    for i in range(args.batch):
        results = dict(img_path=files[i % len(files)])
        for step in steps:
            results = step(results)
        packed.append(results)
    batch = pseudo_collate(packed)
    device = torch.device(args.device)
    times = []
    for _ in range(args.iters + 1):
        start = time.perf_counter()
        images, _ = gd.decode_batch(batch['inputs'], batch['data_samples'], device)
        if device.type == 'cuda':
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return dict(images_per_s=args.batch / float(np.median(times[1:])), batch=args.batch,
                device=str(device), output=list(images.shape),
                megapixels=float(np.mean([np.prod(p['data_samples'].ori_shape)
                                          for p in packed]) / 1e6))


def probe_downstream_config(args: argparse.Namespace) -> dict:
    """Write ``--write``: ``--configs[0]`` on the tiny data of ``--data`` (its dataset
    type's, :data:`mimbench.downstream.TINY_DATA_FOR`), 2 iterations
    then one validation pass, random weights, no checkpoint."""
    from mmengine.config import Config

    from mimbench.downstream import TINY_DATA_FOR, innermost_dataset
    cfg = Config.fromfile(args.configs[0])
    cfg.model.init_cfg = None
    for split in ('train', 'val', 'test'):
        loader = cfg.get(f'{split}_dataloader')
        if not loader:
            continue
        loader.update(num_workers=2, persistent_workers=False,
                      batch_size=loader.batch_size if split == 'train' else 1)
        dataset = innermost_dataset(loader.dataset)
        name, overrides = TINY_DATA_FOR[str(dataset.get('type', '')).split('.')[-1]]
        dataset.update(overrides(os.path.join(args.data, name)))
        evaluator = cfg.get(f'{split}_evaluator')
        for one in (evaluator if isinstance(evaluator, list) else [evaluator]):
            if name == 'coco' and one and 'ann_file' in one:
                one.ann_file = os.path.join(args.data, name,
                                            'annotations/instances_val2017.json')
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=2)
    cfg.param_scheduler = [s for s in (cfg.get('param_scheduler') or [])
                           if not s.get('by_epoch', True)]
    cfg.default_hooks.checkpoint = None
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.dump(args.write)
    return dict(config=args.configs[0], written=args.write)


PROBES = {'env': probe_env, 'mmcv_ops': probe_mmcv_ops, 'ceiling': probe_ceiling,
          'step_profile': probe_step_profile,
          'loader': probe_loader, 'gpu_decode': probe_gpu_decode,
          'downstream_config': probe_downstream_config}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('name', choices=sorted(PROBES))
    parser.add_argument('--out', required=True)
    parser.add_argument('--configs', nargs='*', default=[])
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--iters', type=int, default=8)
    parser.add_argument('--workers', type=int, nargs='*', default=[8])
    parser.add_argument('--data', default='data/demo')
    parser.add_argument('--write', default=None)
    parser.add_argument('--device', default='cuda')
    parser.add_argument('--mmcv', default=None, help='env: the mmcv version to build')
    args = parser.parse_args(argv)
    record = PROBES[args.name](args)
    with open(args.out, 'w') as f:
        json.dump(record, f, indent=2, default=str)
    return 0


if __name__ == '__main__':
    sys.exit(main())
