"""tools/dist_train.sh and tools/slurm_train.sh (over tools/launch_common.sh and
tools/slurm_task.sh): what they start, and a real 2-process CPU (gloo) run compared
with a 1-process run."""
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from engine_doubles import TestRecordHook
from engine_runs import ROOT, deterministic_pipeline, run, tiny_demo_cfg

ENGINE_TESTS = Path(__file__).resolve().parent


def fake_program(path: Path, log: Path) -> Path:
    """An executable that writes its arguments (one a line) to ``log``."""
    path.write_text(f'#!/usr/bin/env bash\nprintf "%s\\n" "$@" > {log}\n')
    path.chmod(0o755)
    return path


def test_dist_train_sh__torchrun_with_env_defaults_and_overrides(tmp_path):
    python = fake_program(tmp_path / 'python', tmp_path / 'args')
    env = dict(os.environ, PYTHON=str(python))
    subprocess.run(['bash', ROOT / 'tools' / 'dist_train.sh', 'cfg.py', '2', '--amp'],
                   env=env, check=True)
    args = (tmp_path / 'args').read_text().split('\n')
    assert args[:2] == ['-m', 'torch.distributed.run']
    for expected in ('--nnodes=1', '--node_rank=0', '--master_addr=127.0.0.1',
                     '--master_port=29500', '--nproc_per_node=2'):
        assert expected in args
    assert args[args.index(str(ROOT / 'tools' / 'train.py')):-1] == [
        str(ROOT / 'tools' / 'train.py'), 'cfg.py', '--launcher', 'pytorch', '--amp']

    env.update(NNODES='2', NODE_RANK='1', PORT='29999', MASTER_ADDR='10.0.0.1')
    subprocess.run(['bash', ROOT / 'tools' / 'dist_train.sh', 'cfg.py', '4'], env=env,
                   check=True)
    args = (tmp_path / 'args').read_text().split('\n')
    for expected in ('--nnodes=2', '--node_rank=1', '--master_addr=10.0.0.1',
                     '--master_port=29999', '--nproc_per_node=4'):
        assert expected in args

    env.update(MASTER_PORT='31000')  # the variable users export; PORT is the old name
    subprocess.run(['bash', ROOT / 'tools' / 'dist_train.sh', 'cfg.py', '4'], env=env,
                   check=True)
    assert '--master_port=31000' in (tmp_path / 'args').read_text().split('\n')


def launcher_env(tmp_path, **variables) -> dict:
    """The test's environment without the launcher variables a developer may have
    exported, plus ``variables``."""
    names = ('NNODES', 'NODE_RANK', 'MASTER_ADDR', 'MASTER_PORT', 'PORT', 'CPUS_PER_TASK',
             'PYTORCH_CUDA_ALLOC_CONF', 'PYTORCH_ALLOC_CONF', 'SRUN_ARGS', 'SLURM_JOB_ID')
    env = {k: v for k, v in os.environ.items() if k not in names}
    return dict(env, **variables)


def test_dist_train_sh__several_nodes_without_a_reachable_master_are_refused(tmp_path):
    python = fake_program(tmp_path / 'python', tmp_path / 'args')
    for addr in (None, '127.0.0.1', 'localhost'):
        env = launcher_env(tmp_path, PYTHON=str(python), NNODES='2', NODE_RANK='1')
        if addr:
            env['MASTER_ADDR'] = addr
        result = subprocess.run(['bash', ROOT / 'tools' / 'dist_train.sh', 'cfg.py', '8'],
                                env=env, capture_output=True, text=True)
        assert result.returncode == 2, addr
        assert 'error: 2 nodes need MASTER_ADDR, the address of node 0' in result.stderr
        assert not (tmp_path / 'args').exists()  # torchrun never started
    one_node = launcher_env(tmp_path, PYTHON=str(python), NNODES='1')
    subprocess.run(['bash', ROOT / 'tools' / 'dist_train.sh', 'cfg.py', '8'], env=one_node,
                   check=True)
    assert '--master_addr=127.0.0.1' in (tmp_path / 'args').read_text().split('\n')


SHOWN = ('MASTER_PORT', 'PYTORCH_CUDA_ALLOC_CONF', 'MMMIM_REQUEUE')


def env_printer(path: Path, log: Path) -> Path:
    """An executable that writes the launcher variables (``SHOWN``) it sees to ``log``."""
    lines = ''.join(f'echo "{name}=${{{name}:-}}"\n' for name in SHOWN)
    path.write_text(f'#!/usr/bin/env bash\n{{\n{lines}}} > {log}\n')
    path.chmod(0o755)
    return path


def shown(log: Path) -> dict:
    """What :func:`env_printer` wrote."""
    return dict(line.split('=', 1) for line in log.read_text().splitlines())


def test_launchers__cuda_allocator_default_and_a_users_value_kept(tmp_path):
    printer = env_printer(tmp_path / 'python', tmp_path / 'env')
    env = launcher_env(tmp_path, PYTHON=str(printer))
    subprocess.run(['bash', ROOT / 'tools' / 'dist_train.sh', 'cfg.py', '1'], env=env, check=True)
    assert shown(tmp_path / 'env')['PYTORCH_CUDA_ALLOC_CONF'] == 'expandable_segments:True'
    env['PYTORCH_CUDA_ALLOC_CONF'] = 'max_split_size_mb:512'
    subprocess.run(['bash', ROOT / 'tools' / 'dist_train.sh', 'cfg.py', '1'], env=env, check=True)
    assert shown(tmp_path / 'env')['PYTORCH_CUDA_ALLOC_CONF'] == 'max_split_size_mb:512'


def test_dist_train_sh__torchrun_ignores_sigusr1_and_gives_the_trainers_time_on_sigterm(
        tmp_path):
    """Slurm signals every process of a step: torchrun would die of SIGUSR1 (the
    trainers handle it); on SIGTERM it waits 120 s for the trainers' checkpoint."""
    python = tmp_path / 'python'
    python.write_text(f'#!{sys.executable}\nimport os, signal\n'
                      f'open({str(tmp_path / "seen")!r}, "w").write(\n'
                      '    f"{signal.getsignal(signal.SIGUSR1) == signal.SIG_IGN} "\n'
                      '    f"{os.environ.get(\'TORCH_ELASTIC_SHUTDOWN_TIMEOUT\')}")\n')
    python.chmod(0o755)
    env = launcher_env(tmp_path, PYTHON=str(python))
    subprocess.run(['bash', ROOT / 'tools' / 'dist_train.sh', 'cfg.py', '2'], env=env, check=True)
    assert (tmp_path / 'seen').read_text() == 'True 120'


def test_slurm_train_sh__srun_options_work_dir_and_train_args(tmp_path):
    fake_program(tmp_path / 'srun', tmp_path / 'args')
    env = dict(os.environ, PATH=f'{tmp_path}:{os.environ["PATH"]}', PYTHON='/opt/py',
               GPUS='16', SRUN_ARGS='--qos=high --time=10')
    subprocess.run(['bash', ROOT / 'tools' / 'slurm_train.sh', 'gpu', 'mae', 'cfg.py',
                    'work/mae', '--amp'], env=env, check=True)
    args = (tmp_path / 'args').read_text().split('\n')
    for expected in ('-p', 'gpu', '--job-name=mae', '--gres=gpu:8', '--ntasks=16',
                     '--ntasks-per-node=8', '--cpus-per-task=10', '--qos=high', '--time=10'):
        assert expected in args  # CPUS_PER_TASK 10: 8 DataLoader workers + the trainer
    assert not any(a.startswith('--signal') for a in args)
    start = args.index('/opt/py')
    assert args[start - 2:start] == ['bash', str(ROOT / 'tools' / 'slurm_task.sh')]
    assert args[start:-1] == ['/opt/py', '-u', str(ROOT / 'tools' / 'train.py'), 'cfg.py',
                              '--launcher', 'slurm', '--work-dir', 'work/mae', '--amp']

    subprocess.run(['bash', ROOT / 'tools' / 'slurm_train.sh', 'gpu', 'mae', 'cfg.py',
                    '--amp'], env=dict(env, GPUS='2', CPUS_PER_TASK='6'), check=True)
    args = (tmp_path / 'args').read_text().split('\n')  # no WORK_DIR
    assert '--work-dir' not in args and '--gres=gpu:2' in args and '--ntasks=2' in args
    assert '--cpus-per-task=6' in args


def test_slurm_train_sh__requeue_signals_before_the_limit_and_resumes(tmp_path):
    """``--requeue``: srun asks for SIGUSR1 180 s before the time limit, train.py gets
    ``--resume`` (once), and the tasks see MMMIM_REQUEUE=1 (the hook requeues)."""
    fake_program(tmp_path / 'srun', tmp_path / 'args')
    env = launcher_env(tmp_path, PATH=f'{tmp_path}:{os.environ["PATH"]}', PYTHON='/opt/py')
    subprocess.run(['bash', ROOT / 'tools' / 'slurm_train.sh', 'gpu', 'mae', 'cfg.py',
                    'work/mae', '--requeue', '--amp'], env=env, check=True)
    args = (tmp_path / 'args').read_text().split('\n')
    assert '--signal=USR1@180' in args and '--requeue' not in args
    assert args[args.index('/opt/py'):-1] == [
        '/opt/py', '-u', str(ROOT / 'tools' / 'train.py'), 'cfg.py', '--launcher', 'slurm',
        '--work-dir', 'work/mae', '--amp', '--resume']

    subprocess.run(['bash', ROOT / 'tools' / 'slurm_train.sh', 'gpu', 'mae', 'cfg.py',
                    '--requeue', '--resume', 'w/iter_9.pth'], env=env, check=True)
    args = (tmp_path / 'args').read_text().split('\n')
    assert args.count('--resume') == 1 and args[-3:-1] == ['--resume', 'w/iter_9.pth']

    # what srun runs in every task: the exported MMMIM_REQUEUE reaches it
    printer = env_printer(tmp_path / 'python', tmp_path / 'env')
    task_env = launcher_env(tmp_path, PATH=f'{tmp_path}:{os.environ["PATH"]}',
                            PYTHON=str(printer), SLURM_JOB_ID='7')
    (tmp_path / 'srun').write_text('#!/usr/bin/env bash\nwhile [ "$1" != bash ]; do shift; '
                                   'done\nexec "$@"\n')  # runs the task command
    subprocess.run(['bash', ROOT / 'tools' / 'slurm_train.sh', 'gpu', 'mae', 'cfg.py',
                    '--requeue'], env=task_env, check=True)
    assert shown(tmp_path / 'env') == dict(MASTER_PORT='10007', MMMIM_REQUEUE='1',
                                           PYTORCH_CUDA_ALLOC_CONF='expandable_segments:True')


def test_slurm_task_sh__port_from_the_job_id_unless_set(tmp_path):
    """Two jobs on one node get different ports (not both 29500); a user's
    MASTER_PORT wins; a loopback MASTER_ADDR on several nodes is refused."""
    printer = env_printer(tmp_path / 'python', tmp_path / 'env')
    task = ['bash', ROOT / 'tools' / 'slurm_task.sh', printer]
    ports = []
    for job in ('123456', '123457'):
        subprocess.run(task, env=launcher_env(tmp_path, SLURM_JOB_ID=job), check=True)
        ports.append(int(shown(tmp_path / 'env')['MASTER_PORT']))
    assert ports == [10000 + 123456 % 20000, 10000 + 123457 % 20000]
    assert all(10000 <= p < 30000 for p in ports)  # below the ephemeral port range
    subprocess.run(task, env=launcher_env(tmp_path, SLURM_JOB_ID='5', MASTER_PORT='4444'),
                   check=True)
    assert shown(tmp_path / 'env')['MASTER_PORT'] == '4444'

    refused = subprocess.run(task, env=launcher_env(
        tmp_path, SLURM_JOB_ID='5', SLURM_STEP_NUM_NODES='2', MASTER_ADDR='127.0.0.1'),
        capture_output=True, text=True)
    assert refused.returncode == 2 and 'error: 2 nodes need MASTER_ADDR' in refused.stderr
    subprocess.run(task, env=launcher_env(tmp_path, SLURM_JOB_ID='5', SLURM_STEP_NUM_NODES='2',
                                          MASTER_ADDR='node01'), check=True)


def run_group(cmd: list, env: dict, timeout: float) -> subprocess.CompletedProcess:
    """Run ``cmd`` in its own process group; kill the whole group (torchrun's
    workers too) if it outlives ``timeout``."""
    proc = subprocess.Popen([str(c) for c in cmd], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        raise AssertionError(f'timed out after {timeout} s:\n{out[-4000:]}')
    return subprocess.CompletedProcess(cmd, proc.returncode, out)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def dist_cfg(images_dir, work_dir, batch_size: int, record_dir=None):
    """1 epoch of the tiny demo config on 12 images, deterministic resizing instead of
    random crops, masks seeded by image content, the sampler's shuffle seed fixed,
    plain SGD at a constant lr (its step is proportional to the averaged gradient)."""
    cfg = tiny_demo_cfg(images_dir, work_dir, batch_size=batch_size, max_epochs=1, **{
        'train_dataloader.dataset.pipeline': deterministic_pipeline(),
        'train_dataloader.sampler.seed': 0,
        'model.masker.type': 'TestContentSeededMasker',
        'custom_hooks': [dict(type='RandomStateHook'),
                         dict(type='TestRecordHook', out_dir=str(record_dir))],
        'custom_imports': dict(imports=['engine_doubles'], allow_failed_imports=False)})
    cfg.optim_wrapper = dict(type='GuardedOptimWrapper', optimizer=dict(type='SGD', lr=0.5))
    cfg.param_scheduler = None
    return cfg


@pytest.mark.slow
def test_dist_train_sh__two_gloo_ranks_match_one_process_and_draw_different_masks(
        small_photos_dir, tmp_path):
    """``bash tools/dist_train.sh CONFIG 2`` on the CPU runs 1 epoch end to end.

    What is compared: the loss of the first two iterations, with the same global
    batch (2 ranks x 2 images vs 1 process x 4). The two runs see the same images:
    one shuffle seed, and the ranks take alternate positions of the same order. To
    give them the same masks too, the masker seeds each image's mask with the image
    content (ranks draw from different RNG streams, and one process would draw the
    masks of 4 images in one go). Every image has the same number of masked units,
    so the 1-process loss (mean over the 4 images' masked units) equals the mean of
    the two ranks' losses. The initial weights are rank 0's, broadcast, equal to the
    1-process run's (both seeded with seed + rank 0). Iteration 1 also checks that
    DDP's averaged gradient gives the same SGD update. Tolerance: 1e-5 relative for
    iteration 0 (summation order only), 1e-4 after one step.

    The same masker also draws, unused, a mask exactly as RandomMasker does from
    the process RNG: with ``diff_rank_seed=True`` the two ranks' draws differ.
    """
    records = tmp_path / 'records'
    records.mkdir()
    config = tmp_path / 'dist_cfg.py'
    dist_cfg(small_photos_dir, tmp_path / 'unused', 2, records).dump(config)
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(free_port()),
               OMP_NUM_THREADS='1',
               PYTHONPATH=os.pathsep.join([str(ENGINE_TESTS), str(ROOT)]))
    result = run_group(['bash', ROOT / 'tools' / 'dist_train.sh', config, '2',
                        '--work-dir', tmp_path / 'dist'], env, timeout=120)
    assert result.returncode == 0, result.stdout[-4000:]
    assert (tmp_path / 'dist' / 'iter_3.pth').exists()
    ranks = [[json.loads(line) for line in (records / f'rank{r}.jsonl').read_text().splitlines()]
             for r in (0, 1)]
    assert [len(r) for r in ranks] == [3, 3]

    single = TestRecordHook()
    cfg = dist_cfg(small_photos_dir, tmp_path / 'single', 4)
    cfg.custom_hooks = [dict(type='RandomStateHook')]
    run(cfg, [single])

    for it, rel in ((0, 1e-5), (1, 1e-4)):
        assert sorted(ranks[0][it]['paths'] + ranks[1][it]['paths']) == \
            sorted(single.records[it]['paths'])
        mean = (ranks[0][it]['loss'] + ranks[1][it]['loss']) / 2
        one = single.records[it]['loss']
        assert abs(mean - one) <= rel * abs(one), (it, mean, one)
    assert ranks[0][0]['drawn_mask'] != ranks[1][0]['drawn_mask']


def test_init_cpu_distributed__slurm_environment_gives_a_gloo_group(tmp_path):
    """``--launcher slurm`` on the CPU: rank, world size and local rank come from
    srun's variables, the master address from ``scontrol show hostname`` (faked)."""
    scontrol = tmp_path / 'scontrol'
    scontrol.write_text('#!/usr/bin/env bash\nprintf "127.0.0.1\\nnode2\\n"\n')
    scontrol.chmod(0o755)
    env = {k: v for k, v in os.environ.items()
           if k not in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT')}
    env.update(PATH=f'{tmp_path}:{env["PATH"]}', SLURM_PROCID='0', SLURM_NTASKS='1',
               SLURM_LOCALID='0', SLURM_NODELIST='node[1-2]', MASTER_PORT=str(free_port()))
    code = ('import os, torch.distributed as dist\n'
            'from mmmim.engine.dist import init_cpu_distributed\n'
            "init_cpu_distributed('slurm')\n"
            "print(dist.get_backend(), dist.get_rank(), dist.get_world_size(),\n"
            "      os.environ['LOCAL_RANK'], os.environ['MASTER_ADDR'])\n"
            'dist.destroy_process_group()\n')
    result = run_group([sys.executable, '-c', code], env, timeout=60)
    assert result.returncode == 0, result.stdout[-3000:]
    assert result.stdout.split()[-5:] == ['gloo', '0', '1', '0', '127.0.0.1']
