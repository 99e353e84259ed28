"""Start torch.distributed on machines without CUDA (gloo backend).

mmengine's ``init_dist`` calls ``torch.cuda.set_device`` for the pytorch, slurm and
mpi launchers, which fails without a GPU. :func:`init_cpu_distributed` reads the
same launcher environment, fills in the standard variables (``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``) and initializes the
default process group with gloo; the Runner then finds it initialized.

:func:`cuda_unusable_reason` guards that CPU fallback: when the machine shows NVIDIA
GPUs but torch cannot use them (typically a driver older than torch's CUDA build
needs), a run would otherwise train on the CPU without an error.
"""
import datetime
import importlib.metadata
import os
import shutil
import subprocess
from typing import Dict, List, Mapping, Optional

import torch
import torch.distributed as dist

DEFAULT_PORT = '29500'
NVIDIA_DEVICE = '/dev/nvidia0'
NVIDIA_SMI_TIMEOUT_S = 10.0
#: oldest NVIDIA driver branch for each major CUDA version of a torch build
#: (CUDA 12 and 11 through minor-version compatibility)
MIN_DRIVER = {'13': '580', '12': '525', '11': '450'}
ALLOW_CPU_VAR = 'MMMIM_ALLOW_CPU'


def _torchrun_env(env: Dict[str, str]) -> Dict[str, str]:
    missing = [k for k in ('RANK', 'WORLD_SIZE') if k not in env]
    if missing:
        raise RuntimeError(f'--launcher pytorch needs {missing} in the environment: start '
                           'with torchrun (tools/dist_train.sh)')
    return dict(LOCAL_RANK=env.get('LOCAL_RANK', env['RANK']),
                MASTER_ADDR=env.get('MASTER_ADDR', '127.0.0.1'),
                MASTER_PORT=env.get('MASTER_PORT', DEFAULT_PORT))


def _first_slurm_host(node_list: str) -> str:
    out = subprocess.run(['scontrol', 'show', 'hostname', node_list], check=True,
                         capture_output=True, text=True).stdout
    return out.split()[0]


def _slurm_env(env: Dict[str, str]) -> Dict[str, str]:
    if 'SLURM_PROCID' not in env:
        raise RuntimeError('--launcher slurm needs SLURM_PROCID etc.: start with srun '
                           '(tools/slurm_train.sh)')
    addr = env.get('MASTER_ADDR') or _first_slurm_host(env['SLURM_NODELIST'])
    return dict(RANK=env['SLURM_PROCID'], WORLD_SIZE=env['SLURM_NTASKS'],
                LOCAL_RANK=env.get('SLURM_LOCALID', '0'), MASTER_ADDR=addr,
                MASTER_PORT=env.get('MASTER_PORT', DEFAULT_PORT))


def _mpi_env(env: Dict[str, str]) -> Dict[str, str]:
    if 'MASTER_ADDR' not in env:
        raise RuntimeError('--launcher mpi needs MASTER_ADDR in the environment')
    return dict(RANK=env['OMPI_COMM_WORLD_RANK'], WORLD_SIZE=env['OMPI_COMM_WORLD_SIZE'],
                LOCAL_RANK=env.get('OMPI_COMM_WORLD_LOCAL_RANK', '0'),
                MASTER_ADDR=env['MASTER_ADDR'],
                MASTER_PORT=env.get('MASTER_PORT', DEFAULT_PORT))


LAUNCHER_ENV = dict(pytorch=_torchrun_env, slurm=_slurm_env, mpi=_mpi_env)


def init_cpu_distributed(launcher: str, timeout: Optional[float] = None) -> None:
    """Initialize the default process group with gloo from the launcher's environment.

    Args:
        launcher: 'pytorch' (torchrun), 'slurm' (srun) or 'mpi' (mpirun).
        timeout: collective timeout in seconds (mmengine's ``dist_cfg.timeout``).
    """
    if launcher not in LAUNCHER_ENV:
        raise ValueError(f'launcher must be one of {sorted(LAUNCHER_ENV)}, got {launcher!r}')
    if dist.is_initialized():
        return
    os.environ.update(LAUNCHER_ENV[launcher](dict(os.environ)))
    kwargs = {} if timeout is None else dict(timeout=datetime.timedelta(seconds=timeout))
    dist.init_process_group(backend='gloo', init_method='env://',
                            rank=int(os.environ['RANK']),
                            world_size=int(os.environ['WORLD_SIZE']), **kwargs)


def gpu_evidence(env: Mapping[str, str]) -> List[str]:
    """Signs that this machine has NVIDIA GPUs: ``nvidia-smi`` on ``PATH``,
    ``/dev/nvidia0``, ``CUDA_VISIBLE_DEVICES`` naming devices. None when
    ``CUDA_VISIBLE_DEVICES`` is ``''`` or ``-1`` (GPUs hidden on purpose)."""
    visible = env.get('CUDA_VISIBLE_DEVICES')
    if visible is not None and visible.strip() in ('', '-1'):
        return []
    seen = []
    if shutil.which('nvidia-smi', path=env.get('PATH')):
        seen.append('nvidia-smi on PATH')
    if os.path.exists(NVIDIA_DEVICE):
        seen.append(NVIDIA_DEVICE)
    if visible is not None:
        seen.append(f'CUDA_VISIBLE_DEVICES={visible}')
    return seen


def nvidia_driver(env: Mapping[str, str]) -> str:
    """``'NVIDIA driver 550.54.15'`` as nvidia-smi reports it, or why it could not tell."""
    smi = shutil.which('nvidia-smi', path=env.get('PATH'))
    if smi is None:
        return 'driver version unknown (no nvidia-smi on PATH)'
    try:
        out = subprocess.run([smi, '--query-gpu=driver_version', '--format=csv,noheader'],
                             capture_output=True, text=True, timeout=NVIDIA_SMI_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return f'driver version unknown (nvidia-smi gave no answer in {NVIDIA_SMI_TIMEOUT_S:g} s)'
    except OSError as error:
        return f'driver version unknown (nvidia-smi: {error})'
    lines = (out.stdout.strip() or out.stderr.strip()).splitlines() or ['no output']
    if out.returncode != 0:
        return f'driver version unknown (nvidia-smi failed: {lines[0].strip()})'
    return f'NVIDIA driver {lines[0].strip()}'


def torch_pins(index: str) -> str:
    """``torch==<this version>+<index> torchvision==<...>+<index>``: this torch (and
    torchvision) again, from the PyTorch wheel index ``index`` (e.g. ``cu128``)."""
    pins = [f"torch=={torch.__version__.split('+')[0]}+{index}"]
    try:
        vision = importlib.metadata.version('torchvision').split('+')[0]
        pins.append(f'torchvision=={vision}+{index}')
    except importlib.metadata.PackageNotFoundError:
        pass
    return ' '.join(pins)


def cuda_unusable_reason(env: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """Why torch cannot use the NVIDIA GPUs this machine shows, or None.

    None when CUDA works, when there is no sign of a GPU (see :func:`gpu_evidence`)
    or when ``MMMIM_ALLOW_CPU=1`` asks for the CPU anyway.
    """
    env = os.environ if env is None else env
    if torch.cuda.is_available() or env.get(ALLOW_CPU_VAR) == '1':
        return None
    seen = gpu_evidence(env)
    if not seen:
        return None
    cuda = torch.version.cuda
    oldest = MIN_DRIVER.get((cuda or '').split('.')[0])
    build = ('a CPU-only build' if not cuda else f'built for CUDA {cuda}' +
             (f', which needs NVIDIA driver >= {oldest}' if oldest else ''))
    return (f'this machine has NVIDIA GPUs ({", ".join(seen)}) but torch '
            f'{torch.__version__} ({build}) cannot use them: {nvidia_driver(env)}. The '
            'run would train on the CPU. Fix: update the driver, or install a torch build '
            'for this driver in a new environment and let the installer build mmcv there, '
            'e.g. for a driver >= 525: python -m venv ENV && ENV/bin/python -m pip '
            f'install {torch_pins("cu128")} --index-url '
            'https://download.pytorch.org/whl/cu128 && MMMIM_PYTHON=ENV/bin/python bash '
            f'tools/install.sh. To train on the CPU anyway: {ALLOW_CPU_VAR}=1.')
