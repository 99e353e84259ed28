"""tools/find_python.sh, sourced by every launcher: the interpreter order $PYTHON, an
active virtualenv, an active conda env, tools/install.sh's environment, then
``python``; each choice is said on stderr."""
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIND = ROOT / 'tools' / 'find_python.sh'
CLEARED = ('PYTHON', 'VIRTUAL_ENV', 'CONDA_PREFIX', 'MMMIM_VENV', 'MMMIM_CACHE',
           'XDG_CACHE_HOME')


def fake_env(root: Path, name: str) -> Path:
    """``root/name`` with an executable ``bin/python``; returns the env folder."""
    python = root / name / 'bin' / 'python'
    python.parent.mkdir(parents=True)
    python.write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$@" > "$(dirname "$0")/args"\n')
    python.chmod(0o755)
    return root / name


def find(tmp_path: Path, **env) -> tuple:
    """(PYTHON chosen, stderr) with a clean environment and HOME in tmp_path."""
    base = {k: v for k, v in os.environ.items() if k not in CLEARED}
    base.update(HOME=str(tmp_path / 'home'), **env)
    done = subprocess.run(['bash', '-c', f'source {FIND}; echo "$PYTHON"'], env=base,
                          capture_output=True, text=True, check=True)
    return done.stdout.strip(), done.stderr


@pytest.fixture
def envs(tmp_path):
    return {name: fake_env(tmp_path, name) for name in ('venv', 'conda', 'project')}


def test_find_python__explicit_python_wins_over_every_environment(tmp_path, envs):
    chosen, said = find(tmp_path, PYTHON='/opt/my/python', VIRTUAL_ENV=str(envs['venv']),
                        CONDA_PREFIX=str(envs['conda']), MMMIM_VENV=str(envs['project']))
    assert chosen == '/opt/my/python' and '$PYTHON' in said


def test_find_python__active_virtualenv_before_conda_and_project_env(tmp_path, envs):
    chosen, said = find(tmp_path, VIRTUAL_ENV=str(envs['venv']),
                        CONDA_PREFIX=str(envs['conda']), MMMIM_VENV=str(envs['project']))
    assert chosen == str(envs['venv'] / 'bin' / 'python') and 'virtualenv' in said


def test_find_python__conda_env_when_no_virtualenv_or_one_without_python(tmp_path, envs):
    for extra in ({}, {'VIRTUAL_ENV': str(tmp_path / 'no_such_env')}):
        chosen, said = find(tmp_path, CONDA_PREFIX=str(envs['conda']),
                            MMMIM_VENV=str(envs['project']), **extra)
        assert chosen == str(envs['conda'] / 'bin' / 'python') and 'conda' in said


def test_find_python__install_sh_environment_from_mmmim_venv_or_the_cache(tmp_path, envs):
    chosen, said = find(tmp_path, MMMIM_VENV=str(envs['project']))
    assert chosen == str(envs['project'] / 'bin' / 'python') and 'install.sh' in said
    cached = fake_env(tmp_path / 'cache' / 'mmmim', 'venv')
    chosen, _ = find(tmp_path, MMMIM_CACHE=str(tmp_path / 'cache' / 'mmmim'))
    assert chosen == str(cached / 'bin' / 'python')


def test_find_python__plain_python_last_with_a_hint(tmp_path):
    chosen, said = find(tmp_path)
    assert chosen == 'python' and 'tools/install.sh' in said


@pytest.mark.parametrize('launcher', ['tools/dist_train.sh',
                                      'tools/benchmarks/classification/mim_dist_train.sh'])
def test_launchers__run_the_active_virtualenvs_python_and_say_so(tmp_path, envs, launcher):
    base = {k: v for k, v in os.environ.items() if k not in CLEARED}
    base.update(HOME=str(tmp_path / 'home'), VIRTUAL_ENV=str(envs['venv']))
    pretrain = tmp_path / 'pretrain.pth'
    pretrain.write_bytes(b'')
    second = '1' if launcher.endswith('dist_train.sh') and 'mim' not in launcher else str(pretrain)
    done = subprocess.run(['bash', str(ROOT / launcher), 'cfg.py', second],
                          env=base, capture_output=True, text=True, check=True)
    assert f'python: {envs["venv"] / "bin" / "python"}' in done.stderr
    args = (envs['venv'] / 'bin' / 'args').read_text().split('\n')
    assert args[:2] == ['-m', 'torch.distributed.run']
