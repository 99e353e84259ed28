"""The OpenMMLab packages of the GPU check: downloaded on a machine with network
(``--prepare DIR``), installed offline on the GPU machine next to its own torch
(``--wheels DIR``), mmcv first without its compiled ops, and its CUDA ops built for
the GPU's arch in the background.

Layout under the work dir: ``site/`` (the wheels, ``pip install --target``),
``build_site/`` (setuptools < 70 and the build tools: mmcv's setup.py and mmengine's
``pkg_resources`` look-ups need them), ``mmcv_lite/`` (mmcv's Python package from its
source archive, with ``mmcv/_ext.py`` a stand-in that raises when an op is called),
``mmcv_ops/`` (the mmcv wheel built with CUDA ops, once built).
"""
from __future__ import annotations

import glob
import json
import os
import re
import subprocess
import sys
import tarfile
from typing import Dict, List, Optional, Sequence

from .context import ROOT, Context, Proc, run

#: What the OpenMMLab packages import that a machine with torch, torchvision, timm,
#: scikit-image, numpy, scipy, matplotlib, opencv, pyyaml, rich and regex may lack.
#: Downloaded without their own dependencies (numpy is there); opencv comes only with
#: ``--with-opencv`` (55 MiB: the folder then exceeds 64 MiB).
DEPENDENCIES = (
    'addict', 'yapf', 'platformdirs', 'termcolor',      # mmengine (config, logger)
    'importlib-metadata==8.7.0', 'zipp', 'model-index', 'ordered-set', 'mat4py',  # mmpretrain
    'pycocotools', 'shapely', 'terminaltables',          # mmdet
    'prettytable', 'wcwidth', 'ftfy',                    # mmseg
)
#: Only for building mmcv and for mmengine's ``pkg_resources``: kept out of ``site/``.
BUILD_TOOLS = ('setuptools>=65,<70', 'wheel', 'ninja')
OPENCV = 'opencv-python-headless'
OPENMMLAB = ('mmengine', 'mmpretrain', 'mmdet', 'mmsegmentation')
MMCV_EXT_STUB = '''"""Stand-in for mmcv's compiled ops (GPU check, mmcv without ops): every op
raises when called, so that modules which import mmcv.ops load."""


def __getattr__(name):
    if name.startswith('__'):
        raise AttributeError(name)

    def missing(*args, **kwargs):
        raise RuntimeError(f'mmcv was installed without its compiled ops: {name} is '
                           'not available (tools/gpu_check.sh builds them for detection)')
    return missing
'''


def pinned(names: Sequence[str], requirement_files: Sequence[str]) -> List[str]:
    """The ``name==version`` lines of ``names`` in the project's requirement files."""
    pins = {}
    for path in requirement_files:
        with open(os.path.join(ROOT, path)) as f:
            for line in f:
                match = re.match(r'\s*([A-Za-z0-9_.-]+)\s*==\s*([^\s#;]+)', line)
                if match:
                    pins[match.group(1).lower()] = f'{match.group(1)}=={match.group(2)}'
    missing = [n for n in names if n.lower() not in pins]
    if missing:
        raise ValueError(f'no pinned version of {missing} in {requirement_files}')
    return [pins[n.lower()] for n in names]


def prepare_commands(folder: str, python_version: str = '3.12',
                     platform: str = 'manylinux2014_x86_64', with_opencv: bool = False,
                     pip: Sequence[str] = (sys.executable, '-m', 'pip')) -> List[List[str]]:
    """The ``pip download`` command lines of ``--prepare``: wheels for the target python
    and platform (no dependencies resolved: the list is complete), then mmcv's source
    archive (PyPI has no mmcv 2.1.0 wheel)."""
    target = ['--only-binary=:all:', '--python-version', python_version,
              '--implementation', 'cp', *platform_options(platform)]
    wheels = [*pinned(OPENMMLAB, ['requirements/runtime.txt']), *DEPENDENCIES,
              *BUILD_TOOLS, *([OPENCV] if with_opencv else [])]
    base = [*pip, 'download', '--no-deps', '--dest', folder]
    return [[*base, *target, *wheels],
            [*base, '--no-binary', ':all:', *pinned(['mmcv'], ['requirements/mmcv.txt'])]]


def platform_options(platform: str) -> List[str]:
    """``--platform`` options: the one asked for and, for a manylinux x86-64 target,
    the other manylinux tags a wheel may carry (pip matches each tag exactly)."""
    tags = [platform]
    if platform.startswith('manylinux') and platform.endswith('x86_64'):
        tags += [f'manylinux_2_{n}_x86_64' for n in (17, 24, 27, 28, 31, 34)]
        tags += ['manylinux2014_x86_64', 'manylinux1_x86_64']
    return [option for tag in dict.fromkeys(tags) for option in ('--platform', tag)]


def prepare(folder: str, python_version: str, platform: str, with_opencv: bool,
            dry_run: bool = False) -> int:
    """Run (or with ``dry_run`` print) the download commands; print the folder's size.
    mmcv's setup.py needs ``pkg_resources`` even to say its name, so its download runs
    with setuptools < 70 in pip's build environment (``PIP_CONSTRAINT``)."""
    os.makedirs(folder, exist_ok=True)
    constraint = os.path.join(folder, 'build-constraints.txt')
    env = dict(os.environ, PIP_CONSTRAINT=constraint)
    for command in prepare_commands(folder, python_version, platform, with_opencv):
        print('+', ' '.join(command), flush=True)
        if dry_run:
            continue
        with open(constraint, 'w') as f:
            f.write('setuptools<70\n')
        code = subprocess.call(command, env=env)
        os.remove(constraint)
        if code:
            return code
    size = sum(os.path.getsize(p) for p in glob.glob(os.path.join(folder, '*')))
    print(f'{folder}: {len(os.listdir(folder))} files, {size / 2**20:.1f} MiB', flush=True)
    return 0


def distribution_name(filename: str) -> str:
    """Normalized project name of a wheel or source archive file name."""
    stem = os.path.basename(filename)
    name = re.split(r'-\d', stem, maxsplit=1)[0]
    return re.sub(r'[-_.]+', '-', name).lower()


def installed_distributions(python: str) -> Dict[str, str]:
    """Normalized name -> version of what ``python`` has installed."""
    code = ('import importlib.metadata as m, json, re; print(json.dumps({re.sub('
            '"[-_.]+", "-", d.metadata["Name"]).lower(): d.version for d in '
            'm.distributions() if d.metadata["Name"]}))')
    out = subprocess.run([python, '-c', code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def wheels_to_install(folder: str, installed: Dict[str, str]) -> Dict[str, List[str]]:
    """The folder's wheels split into ``site`` (the OpenMMLab packages always; the
    others only when missing) and ``build`` (the build tools, always: setuptools < 70
    is needed whatever the machine has)."""
    build = {distribution_name(t.split('>')[0].split('=')[0].split('<')[0])
             for t in BUILD_TOOLS}
    plan = {'site': [], 'build': []}
    for path in sorted(glob.glob(os.path.join(folder, '*.whl'))):
        name = distribution_name(path)
        if name in build:
            plan['build'].append(path)
        elif name in OPENMMLAB or name not in installed:
            plan['site'].append(path)
    return plan


def pip_install_command(python: str, wheels: Sequence[str], target: str) -> List[str]:
    return [python, '-m', 'pip', 'install', '--no-index', '--no-deps', '--no-compile',
            '--upgrade', '--disable-pip-version-check', '-q', '--target', target, *wheels]


def mmcv_archive(folder: str) -> Optional[str]:
    found = sorted(glob.glob(os.path.join(folder, 'mmcv-*.tar.gz')))
    return found[-1] if found else None


def extract_mmcv(archive: str, into: str) -> str:
    """Unpack mmcv's source archive under ``into``; returns the source folder."""
    os.makedirs(into, exist_ok=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into)  # noqa: S202 (the archive pip downloaded for us)
    return glob.glob(os.path.join(into, 'mmcv-*'))[0]


def install_mmcv_lite(archive: str, ctx: Context) -> str:
    """mmcv's Python package from the source archive, without compiled ops: its
    ``mmcv/_ext.py`` stand-in lets modules that import mmcv.ops load; returns the
    folder to put on ``PYTHONPATH``."""
    source = extract_mmcv(archive, ctx.path('mmcv_lite'))
    with open(os.path.join(source, 'mmcv', '_ext.py'), 'w') as f:
        f.write(MMCV_EXT_STUB)
    return source


def install(ctx: Context, folder: str, installed: Dict[str, str]) -> Proc:
    """Install the folder's wheels for ``ctx.python``, which has ``installed`` (see
    the module docstring), and put them on ``ctx.paths``; returns the pip run."""
    plan = wheels_to_install(folder, installed)
    proc = Proc(0, 0.0, '')
    for key, target in (('build', ctx.path('build_site')), ('site', ctx.path('site'))):
        if plan[key]:
            proc = run(pip_install_command(ctx.python, plan[key], target), 300,
                       log=ctx.path(f'pip_{key}.log'))
            if not proc.ok:
                return proc
        ctx.paths.append(target)
    ctx.details['installed'] = {k: [os.path.basename(p) for p in v] for k, v in plan.items()}
    return proc
