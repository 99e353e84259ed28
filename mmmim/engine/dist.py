"""Start torch.distributed on machines without CUDA (gloo backend).

mmengine's ``init_dist`` calls ``torch.cuda.set_device`` for the pytorch, slurm and
mpi launchers, which fails without a GPU. :func:`init_cpu_distributed` reads the
same launcher environment, fills in the standard variables (``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``) and initializes the
default process group with gloo; the Runner then finds it initialized.
"""
import datetime
import os
import subprocess
from typing import Dict, Optional

import torch.distributed as dist

DEFAULT_PORT = '29500'


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
