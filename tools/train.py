"""Train (pretrain) a model from a config.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [auto|PATH]] [--amp]
        [--auto-scale-lr] [--deterministic] [--cfg-options KEY=VALUE ...]
        [--launcher none|pytorch|slurm|mpi]

Several processes: ``bash tools/dist_train.sh CONFIG GPUS [args]`` (torchrun) or
``bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG [WORK_DIR] [args]`` (srun).
Without CUDA, distributed runs use the gloo backend on the CPU.

``--resume`` continues a run (weights, optimizer, scheduler, loss scaler, random
states, data position) from the newest checkpoint of the work dir that loads (newer
files that do not are skipped, each named in the log with the reason); ``--resume
PATH`` from that file, failing with the problem if it is not a complete training
checkpoint. To start a new run from a checkpoint's weights instead, use
``--cfg-options load_from=PATH``. Checkpoints are written atomically
(``AtomicCheckpointHook``; a config's plain ``CheckpointHook`` is upgraded to it).

On GPU machines: a torch that cannot use the GPUs present (e.g. a driver too old for
its CUDA build) stops the run instead of training on the CPU (``MMMIM_ALLOW_CPU=1``
allows it); fp32 matrix products may use TF32; ``--amp`` autocasts detection configs
to float16 (mmcv's RoIAlign has no bfloat16 kernel); ``--deterministic`` sets
``CUBLAS_WORKSPACE_CONFIG``. A dataloader's ``num_workers='auto'`` becomes the CPUs
this process may use, less one for the trainer.
"""
import argparse
import difflib
import logging
import os
import os.path as osp
import re
from typing import Dict, Iterator, List, Mapping, Optional, Tuple

import torch
from mmengine.config import Config, ConfigDict, DictAction
from mmengine.logging import print_log
from mmengine.registry import Registry
from mmengine.runner import Runner

import mmmim  # noqa: F401  (stack shims; registers mmpretrain's modules)
import mmmim.converters  # noqa: F401  (MIMPretrained init_cfg, under any default scope)
import mmmim.engine  # noqa: F401  (registers the engine modules)
from mmmim import config_loading
from mmmim import registry as mmmim_registry
from mmmim.checkpoint_io import CheckpointError
from mmmim.converters import ConversionError, check_load_from
from mmmim.engine import TrainSetupReportHook, init_cpu_distributed
from mmmim.engine.dist import cuda_unusable_reason
from mmmim.engine.hooks import PreemptionCheckpointHook
from mmmim.mmcv_ops import has_mmcv_ops, is_missing_ops, missing_ops_message
from mmmim.models.algorithms import MaskedImageModel

AMP_WRAPPERS = ('AmpOptimWrapper', 'GuardedAmpOptimWrapper')
# by module path: found under any default scope (mmdet / mmseg configs too)
ATOMIC_CHECKPOINT_HOOK = 'mmmim.engine.hooks.AtomicCheckpointHook'
FP32_WRAPPERS = ('OptimWrapper', 'GuardedOptimWrapper')
DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
#: default scopes whose models import mmcv's compiled ops
OPS_SCOPES = ('mmdet', 'mmseg')
#: cuBLAS workspace setting that makes its GEMMs deterministic (CUDA >= 10.2)
CUBLAS_DETERMINISTIC = ':4096:8'
#: NCCL / gloo collective timeout (seconds) for configs that set none
COLLECTIVE_TIMEOUT_S = 3600


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description='Train a model from a config.')
    parser.add_argument('config', help='config file')
    parser.add_argument('--work-dir', help='where logs and checkpoints go '
                        '(default: work_dirs/<config name>)')
    parser.add_argument('--resume', nargs='?', const='auto', default=None,
                        metavar='auto|PATH', help='resume a run: alone or "auto" = the '
                        'latest checkpoint in the work dir; or the checkpoint PATH')
    parser.add_argument('--amp', action='store_true', help='mixed precision: bfloat16 '
                        'where supported (and on the CPU), else float16 with loss scaling; '
                        'float16 for detection configs (RoIAlign has no bfloat16 kernel)')
    parser.add_argument('--auto-scale-lr', action='store_true', help='scale the lr by '
                        'effective batch / auto_scale_lr.base_batch_size')
    parser.add_argument('--deterministic', action='store_true',
                        help='deterministic algorithms (slower)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
                        help='override config entries, e.g. train_dataloader.batch_size=64')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='how the processes were started')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0,
                        help=argparse.SUPPRESS)  # torch.distributed.launch compatibility
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def fail(message: str) -> None:
    """Stop with a one-paragraph error (exit status 1)."""
    raise SystemExit(f'error: {message}')


def load_config(path: str, options: Optional[Dict] = None) -> Config:
    """The config at ``path`` with ``--cfg-options`` merged in
    (:func:`mmmim.config_loading.load_config`), stopping with its one-paragraph error
    when the file is missing or loading it needs mmcv's missing compiled ops."""
    try:
        return config_loading.load_config(path, options)
    except config_loading.ConfigLoadError as error:
        fail(str(error))


def set_resume(cfg: Config, resume: Optional[str]) -> None:
    """``auto``: the latest checkpoint of the work dir; otherwise that file."""
    if resume is None:
        return
    cfg.resume = True
    if resume == 'auto':
        cfg.load_from = None
    elif not osp.isfile(resume):
        fail(f'--resume: checkpoint not found: {resume}')
    else:
        cfg.load_from = resume


def is_detection(cfg: Config) -> bool:
    """An mmdet config: mmdet's default scope, or a model with RoI heads."""
    return cfg.get('default_scope') == 'mmdet' or 'roi_head' in (cfg.get('model') or {})


def use_amp(cfg: Config) -> None:
    """Turn the config's optim wrapper into ``GuardedAmpOptimWrapper``, named with its
    scope (``mmmim.``): detection, segmentation and classification configs build under
    the mmdet / mmseg / mmpretrain scope, whose registries do not see mmmim's.

    The autocast dtype is the config's own when it names one; else ``'float16'`` for
    detection configs (mmcv's RoIAlign has CUDA and CPU kernels for float16 and
    float32 only, so bfloat16 would fail at the first RoI), ``'auto'`` elsewhere.
    """
    wrapper = cfg.get('optim_wrapper')
    kind = str((wrapper or {}).get('type', 'OptimWrapper')).split('.')[-1]
    if kind not in FP32_WRAPPERS + AMP_WRAPPERS:
        fail(f'--amp works on an OptimWrapper / GuardedOptimWrapper config; '
             f'optim_wrapper.type is {kind}')
    wrapper.type = 'mmmim.GuardedAmpOptimWrapper'
    if wrapper.get('dtype') is not None:
        return
    wrapper.dtype = 'float16' if is_detection(cfg) else 'auto'
    if wrapper.dtype == 'float16' and not torch.cuda.is_available():
        fail('--amp on a detection config autocasts to float16 (mmcv\'s RoIAlign has no '
             'bfloat16 kernel), which needs a CUDA device; on the CPU train without --amp')


def enable_auto_scale_lr(cfg: Config) -> None:
    """Let the Runner scale the lr by effective batch / base batch.

    mmengine scales by (processes x per-process batch) / ``base_batch_size``; the
    effective batch also counts gradient accumulation steps, so the base is divided
    by them here.
    """
    auto = cfg.get('auto_scale_lr')
    if not auto or 'base_batch_size' not in auto:
        fail('--auto-scale-lr needs auto_scale_lr = dict(base_batch_size=...) in the config')
    steps = (cfg.get('optim_wrapper') or {}).get('accumulative_counts', 1)
    auto.enable = True
    auto.base_batch_size = auto.base_batch_size / steps


def use_atomic_checkpoints(cfg: Config) -> None:
    """A config's plain ``CheckpointHook`` becomes ``AtomicCheckpointHook`` (same
    arguments): saves that a kill or a full disk cannot break, and ``--resume``
    falling back to the newest checkpoint that loads."""
    hook = (cfg.get('default_hooks') or {}).get('checkpoint')
    if hook and str(hook.get('type', '')).split('.')[-1] == 'CheckpointHook':
        hook.type = ATOMIC_CHECKPOINT_HOOK


def apply_args(cfg: Config, args: argparse.Namespace) -> None:
    """Command-line choices that override the config."""
    cfg.launcher = args.launcher
    if args.work_dir:
        cfg.work_dir = args.work_dir
    elif not cfg.get('work_dir'):
        cfg.work_dir = osp.join('work_dirs', osp.splitext(osp.basename(args.config))[0])
    set_resume(cfg, args.resume)
    use_atomic_checkpoints(cfg)
    set_collective_timeout(cfg)
    if args.amp:
        use_amp(cfg)
    if args.auto_scale_lr:
        enable_auto_scale_lr(cfg)
    if args.deterministic:
        use_deterministic(cfg)
    planned = load_config(args.config) if args.cfg_options else cfg
    check_schedule_fits(cfg, planned)


def run_length(cfg: Config) -> Optional[Tuple[str, int]]:
    """``('max_epochs', n)`` or ``('max_iters', n)`` of the config's train loop."""
    train_cfg = cfg.get('train_cfg') or {}
    for key in ('max_epochs', 'max_iters'):
        if train_cfg.get(key) is not None:
            return key, int(train_cfg[key])
    return None


def scheduler_entries(cfg: Config) -> List[Tuple[Optional[int], Mapping]]:
    """``(index, entry)`` of each ``param_scheduler`` entry; index None for one dict."""
    entries = cfg.get('param_scheduler') or []
    if isinstance(entries, Mapping):
        return [(None, entries)]
    return list(enumerate(entries))


def scheduler_setting(index: Optional[int], bound: str, sep: str = '[') -> str:
    """'param_scheduler[1].begin' (sep '['), or as an option 'param_scheduler.1.begin'
    (sep '.')."""
    if index is None:
        return f'param_scheduler.{bound}'
    return f'param_scheduler[{index}].{bound}' if sep == '[' else \
        f'param_scheduler.{index}.{bound}'


def schedule_bounds(cfg: Config, key: str) -> List[Tuple[Optional[int], str, int]]:
    """``(index, 'begin' or 'end', value)`` of the schedulers counted in the unit of
    ``key`` (epochs for max_epochs: ``by_epoch``, mmengine's default; else
    iterations); an ``end`` left out follows the run."""
    by_epoch = key == 'max_epochs'
    return [(index, bound, int(entry[bound])) for index, entry in scheduler_entries(cfg)
            if bool(entry.get('by_epoch', True)) == by_epoch
            for bound in ('begin', 'end') if entry.get(bound) is not None]


def scaled_bounds(bounds: List[Tuple[Optional[int], str, int]], planned: int, length: int
                  ) -> Optional[List[str]]:
    """Options scaling the bounds of a run of ``planned`` to one of ``length`` (those
    that change; a nonzero bound stays >= 1, a begin < length); None when the run is
    too short to keep the bounds' order (e.g. a warm-up before the cosine)."""
    scaled = {(index, bound): min(max(round(value * length / planned), 1 if value else 0),
                                  length - 1 if bound == 'begin' else length)
              for index, bound, value in bounds}
    values = [(value, scaled[index, bound]) for index, bound, value in bounds]
    values += [(planned, length)] + [(0, 0)]
    if any((a < b) != (sa < sb) or (a == b) != (sa == sb)
           for a, sa in values for b, sb in values):
        return None
    return [f'{scheduler_setting(index, bound, ".")}={scaled[index, bound]}'
            for index, bound, value in bounds if scaled[index, bound] != value]


def check_schedule_fits(cfg: Config, planned: Optional[Config] = None) -> None:
    """Stop, naming the settings to change, when a ``param_scheduler`` entry begins at
    or after the end of the run (mmengine would fail with "end should be larger than
    begin", or never run it), as after ``--cfg-options train_cfg.max_epochs=2`` on a
    config with a 25-epoch warm-up. When the config as written (``planned``) runs
    longer, the message suggests its schedule scaled to this run. An entry that only
    ends after the run (a warm-up cut short, as in a 2-iteration check of a detection
    config) is named in a warning."""
    found = run_length(cfg)
    if found is None:
        return
    key, length = found
    bounds = schedule_bounds(cfg, key)
    past = [f'{scheduler_setting(index, bound)}={value}' for index, bound, value in bounds
            if value > length or (bound == 'begin' and value == length)]
    if not any(bound == 'begin' and value >= length for _, bound, value in bounds):
        if past:
            print_log(f'{", ".join(past)} past the end of the run (train_cfg.{key}='
                      f'{length}): that schedule is cut short', logger='current',
                      level=logging.WARNING)
        return
    unit = key[len('max_'):]
    message = (f'the param_scheduler does not fit the run (train_cfg.{key}={length}): '
               f'{", ".join(past)} {"is" if len(past) == 1 else "are"} at or past its '
               f'end. Shorten the schedule with the run')
    original = run_length(planned) if planned is not None else None
    scaled = None
    if original and original[0] == key and original[1] > length:
        scaled = scaled_bounds(schedule_bounds(planned, key), original[1], length)
    if scaled:
        message += (f', e.g. --cfg-options train_cfg.{key}={length} {" ".join(scaled)} '
                    f"(the config's {original[1]}-{unit[:-1]} schedule scaled to {length})")
    fail(message)


def set_collective_timeout(cfg: Config, seconds: int = COLLECTIVE_TIMEOUT_S) -> None:
    """``env_cfg.dist_cfg.timeout`` (seconds) where the config sets none: NCCL's
    10-minute default is shorter than a rank-0 checkpoint write to a slow shared file
    system, which the other ranks wait for inside their next collective."""
    env_cfg = cfg.setdefault('env_cfg', ConfigDict())
    env_cfg.setdefault('dist_cfg', ConfigDict(backend='nccl')).setdefault('timeout', seconds)


def use_deterministic(cfg: Config) -> None:
    """``randomness.deterministic=True``, and the cuBLAS workspace setting without
    which the first CUDA GEMM under ``torch.use_deterministic_algorithms`` raises (set
    here, before any CUDA call; a value already in the environment is kept)."""
    os.environ.setdefault('CUBLAS_WORKSPACE_CONFIG', CUBLAS_DETERMINISTIC)
    cfg.randomness = dict(cfg.get('randomness') or {}, deterministic=True)


def relax_determinism_for_vitdet(cfg: Config) -> None:
    """Deterministic ViTDet runs warn instead of failing at the bicubic resize of the
    position table (its CUDA backward has no deterministic kernel): after mmengine's
    ``use_deterministic_algorithms(True)``, ``warn_only=True`` for configs with a
    ``ViTDetBackbone`` (mmengine's ``randomness`` has no such option)."""
    if not (cfg.get('randomness') or {}).get('deterministic'):
        return
    if any(type_paths(cfg.to_dict().get('model'), 'ViTDetBackbone')):
        torch.use_deterministic_algorithms(True, warn_only=True)
        print_log('deterministic: warn_only=True for ViTDet (bicubic position-table '
                  'resize has no deterministic CUDA backward)', logger='current')


def allow_tf32() -> None:
    """On CUDA, fp32 matrix products may use TF32 tensor cores (torch's default is
    full fp32; cuDNN convolutions already use TF32). Nothing changes on the CPU."""
    if torch.cuda.is_available():
        torch.set_float32_matmul_precision('high')


def stop_if_gpus_unusable() -> None:
    """Stop when the machine has NVIDIA GPUs that torch cannot use (the run would
    silently train on the CPU); ``MMMIM_ALLOW_CPU=1`` lets it go on."""
    reason = cuda_unusable_reason()
    if reason:
        fail(reason)


def cpus_per_process(env: Mapping[str, str]) -> Tuple[int, str]:
    """The CPUs this process may use, and how that was found: the CPU affinity,
    shared by torchrun's ``LOCAL_WORLD_SIZE`` or mpirun's ``OMPI_COMM_WORLD_LOCAL_SIZE``
    processes; an srun task gets its ``SLURM_CPUS_PER_TASK`` (else an equal share of
    the affinity among its node's ``SLURM_NTASKS_PER_NODE`` tasks)."""
    cpus = (len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity')
            else os.cpu_count() or 1)
    how = f'{cpus} CPUs in the affinity'
    srun = 'SLURM_PROCID' in env and 'LOCAL_WORLD_SIZE' not in env
    if srun and env.get('SLURM_CPUS_PER_TASK'):
        per_task = int(env['SLURM_CPUS_PER_TASK'])
        return min(cpus, per_task), f'{how}, SLURM_CPUS_PER_TASK={per_task}'
    sharing = ('SLURM_NTASKS_PER_NODE',) if srun else (
        'LOCAL_WORLD_SIZE', 'OMPI_COMM_WORLD_LOCAL_SIZE')
    for name in sharing:
        if env.get(name):
            share = max(int(env[name]), 1)
            return cpus // share, f'{how} / {name}={share}'
    return cpus, how


def resolve_num_workers(cfg: Config, env: Mapping[str, str] = os.environ) -> None:
    """``num_workers='auto'`` in a dataloader: this process's CPUs less one for the
    trainer, at least 1 (one worker keeps decoding out of the trainer and keeps
    ``persistent_workers=True`` valid, even when it shares the trainer's only core)."""
    auto = [name for name in DATALOADERS
            if (cfg.get(name) or {}).get('num_workers') == 'auto']
    if not auto:
        return
    cpus, how = cpus_per_process(env)
    workers = max(cpus - 1, 1)
    for name in auto:
        cfg[name].num_workers = workers
    print_log(f"num_workers='auto' -> {workers} in {', '.join(auto)} ({how})",
              logger='current')


def setup_cpu_distributed(cfg: Config) -> None:
    """Without CUDA, start gloo here (mmengine's start-up needs a GPU) and wrap the
    model in DDP without device ids."""
    if cfg.launcher == 'none' or torch.cuda.is_available():
        return
    timeout = ((cfg.get('env_cfg') or {}).get('dist_cfg') or {}).get('timeout')
    init_cpu_distributed(cfg.launcher, timeout)
    cfg.merge_from_dict({'env_cfg.dist_cfg.backend': 'gloo'})
    wrapper = cfg.get('model_wrapper_cfg') or ConfigDict(
        type='MMDistributedDataParallel', broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper.device_ids = None  # DDP of a CPU module takes no device ids
    cfg.model_wrapper_cfg = wrapper


def require_mmcv_ops(cfg: Config) -> None:
    """Stop, naming the install that adds them, when an mmdet / mmseg config meets an
    mmcv without its compiled ops (the pretraining install's): their models import
    them, and mmengine would report the failed import as an unregistered type."""
    scope = cfg.get('default_scope')
    if scope in OPS_SCOPES and not has_mmcv_ops():
        fail(missing_ops_message(f'this {scope} config'))


def build_runner(cfg: Config) -> Runner:
    """The config's runner, with the batch / lr report hook and the preemption hook
    (a checkpoint on SIGTERM / SIGUSR1) added to configs that do not list them
    (mmdet / mmseg configs inherit their own runtimes). mmdet / mmseg configs need
    mmcv's compiled ops (:func:`require_mmcv_ops`)."""
    require_mmcv_ops(cfg)
    runner = (Runner.from_cfg(cfg) if 'runner_type' not in cfg
              else mmmim_registry.RUNNERS.build(cfg))
    for hook_type in (TrainSetupReportHook, PreemptionCheckpointHook):
        if not any(isinstance(h, hook_type) for h in runner.hooks):
            runner.register_hook(hook_type())
    return runner


def check_pretraining_load_from(runner: Runner, cfg: Config) -> None:
    """``load_from`` into a pretraining model, not resuming: log what loads, and stop
    (:class:`ConversionError`) when the encoder or a decoder would not, or when the file
    is a released checkpoint that must be imported first (mmengine only warns)."""
    model = getattr(runner.model, 'module', runner.model)
    if not cfg.get('load_from') or cfg.get('resume') or not isinstance(model,
                                                                         MaskedImageModel):
        return
    print_log(check_load_from(model, cfg.load_from).summary(), logger='current')


def type_paths(node, name: str, path: str = '') -> Iterator[str]:
    """Config keys whose ``type`` is ``name`` (e.g. ``model.masker``)."""
    if isinstance(node, dict):
        if str(node.get('type', '')).split('.')[-1] == name:
            yield path or '<root>'
        for key, value in node.items():
            yield from type_paths(value, name, f'{path}.{key}' if path else str(key))
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from type_paths(value, name, f'{path}[{i}]')


def registered_names(registry_name: str) -> List[str]:
    """Names in mmmim's registry called ``registry_name`` and in its parents."""
    return [name for obj in vars(mmmim_registry).values()
            if isinstance(obj, Registry) and obj.name == registry_name
            for reg in config_loading.registry_chain(obj) for name in reg.module_dict]


def unknown_type(error: KeyError) -> Optional[Tuple[str, str]]:
    """``(type, registry)`` from mmengine's "X is not in the S::R registry" error."""
    found = re.search(r'(\S+) is not in the (\S+)::(.+?) registry', str(error))
    return (found.group(1).strip('`\'"'), found.group(3)) if found else None


def unknown_type_message(cfg: Config, name: str, registry_name: str) -> str:
    """Where the unknown type is in the config, and near names that do exist."""
    where = ', '.join(type_paths(cfg.to_dict(), name)) or 'a config entry'
    close = difflib.get_close_matches(name, registered_names(registry_name), n=3)
    hint = f' Did you mean {" or ".join(close)}?' if close else ''
    return (f"unknown type '{name}' at {where}: no {registry_name} of that name is "
            f'registered (in mmmim, mmpretrain or mmengine).{hint} A module of your own '
            "must be imported first: custom_imports = dict(imports=['my.module']).")


def release_process_group() -> None:
    """After a finished run (the script's last step; a caller of :func:`main` that
    runs on keeps the group), wait for every rank and tear the process group down
    before the interpreter does: gloo's threads left to the interpreter's exit can
    abort a rank ("terminate called without an active exception", SIGABRT), which
    fails the launcher after a run that completed."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


def main(argv: Optional[List[str]] = None) -> None:
    """Parse, configure, build the runner and train."""
    args = parse_args(argv)
    stop_if_gpus_unusable()
    allow_tf32()
    cfg = load_config(args.config, args.cfg_options)
    apply_args(cfg, args)
    resolve_num_workers(cfg)
    setup_cpu_distributed(cfg)
    try:
        runner = build_runner(cfg)
        relax_determinism_for_vitdet(cfg)
        check_pretraining_load_from(runner, cfg)
        runner.train()
    except (CheckpointError, ConversionError) as error:
        fail(str(error))
    except ImportError as error:
        if not is_missing_ops(error):
            raise
        fail(missing_ops_message('this config'))
    except KeyError as error:
        found = unknown_type(error)
        if found is None:
            raise
        fail(unknown_type_message(cfg, *found))


if __name__ == '__main__':
    main()
    release_process_group()
