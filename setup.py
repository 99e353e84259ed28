"""Install mmmim. The OpenMMLab stack itself (mmcv with compiled ops in particular)
is installed by ``bash tools/install.sh``; see README.md."""
import os.path as osp

from setuptools import find_packages, setup


def read_version() -> str:
    namespace: dict = {}
    with open(osp.join(osp.dirname(__file__), 'mmmim', 'version.py')) as f:
        exec(f.read(), namespace)
    return namespace['__version__']


def read_requirements(name: str) -> list:
    """Requirements of ``requirements/<name>``, following ``-r other.txt`` lines."""
    path = osp.join(osp.dirname(__file__), 'requirements', name)
    with open(path) as f:
        lines = [line.split('#')[0].strip() for line in f]
    requirements = []
    for line in filter(None, lines):
        requirements += read_requirements(line[2:].strip()) if line.startswith('-r') else [line]
    return requirements


setup(
    name='mmmim',
    version=read_version(),
    description='Efficient masked image modeling (UM-MAE, PixMIM, LocalMIM, MAE, '
    'SimMIM) for columnar and pyramid vision transformers on OpenMMLab',
    long_description=open(osp.join(osp.dirname(__file__), 'README.md')).read()
    if osp.exists(osp.join(osp.dirname(__file__), 'README.md')) else '',
    long_description_content_type='text/markdown',
    # the library only: the bench (tools/mimbench), the tools and the tests stay in the
    # checkout and are not installed
    packages=find_packages(include=('mmmim', 'mmmim.*')),
    python_requires='>=3.9',
    install_requires=read_requirements('runtime.txt'),
    extras_require={'tests': read_requirements('tests.txt'),
                    'optional': read_requirements('optional.txt')},
    license='Apache-2.0',
    zip_safe=False,
)
