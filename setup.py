from setuptools import find_packages, setup


def read_version():
    scope = {}
    with open('mmlight/version.py') as f:
        exec(f.read(), scope)
    return scope['__version__']


setup(
    name='mmlight',
    version=read_version(),
    description='Efficient backbones (GhostNet, ShuffleNet, HorNet, ODConv) for MMDetection 3.x',
    packages=find_packages(include=['mmlight', 'mmlight.*']),
    python_requires='>=3.8',
    # mmcv 2.1.0 has no wheel for current torch: tools/ensure_env.sh builds it, then installs
    # mmengine and mmdet; listing them here would make pip try (and fail) to build mmcv in isolation.
    install_requires=[],
    license='Apache License 2.0',
)
