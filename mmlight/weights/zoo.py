"""The named ImageNet weights of every family: where each official file comes from, in which
key layout (the family's converter in :mod:`mmlight.converters` reads it), and what it scores
as its source reports it. ``mmlight://NAME`` (:mod:`mmlight.weights.hub`) fetches, converts
and caches an entry by name."""

from .table import PretrainedWeights, WeightSource, register_weights

# GhostNet and GhostNetV2: the official releases (huawei-noah).
_V1_RELEASE = 'https://github.com/huawei-noah/CV-backbones/releases/download/ghostnet_pth/'
_V2_RELEASE = 'https://github.com/huawei-noah/Efficient-AI-Backbones/releases/download/GhostNetV2/'
_V2_README = (
    'GhostNetV2 paper, Table 1 (Efficient-AI-Backbones ghostnetv2_pytorch README links these files)'
)


def _ghostnetv2(width: float, tag: str, top1: float, params: float):
    return PretrainedWeights(
        name=f'ghostnetv2_{width}x',
        family='ghostnet',
        model=dict(type='GhostNetV2', widen_factor=width),
        sources=(
            WeightSource(
                url=_V2_RELEASE + f'ck_ghostnetv2_{tag}.pth.tar',
                filename=f'ck_ghostnetv2_{tag}.pth.tar',
                layout='official',
            ),
        ),
        top1=top1,
        top1_source=_V2_README,
        params=params,
    )


register_weights(
    PretrainedWeights(
        name='ghostnet_1.0x',
        family='ghostnet',
        model=dict(type='GhostNet', widen_factor=1.0),
        sources=(
            WeightSource(
                url=_V1_RELEASE + 'ghostnet_1x.pth', filename='ghostnet_1x.pth', layout='official'
            ),
        ),
        top1=73.9,
        top1_source='GhostNet paper, Table 7',
        params=5.2,
    ),
    _ghostnetv2(1.0, '10', 75.3, 6.1),
    _ghostnetv2(1.3, '13', 76.9, 8.9),
    _ghostnetv2(1.6, '16', 77.8, 12.3),
)


# HorNet: the official files (raoyongming/HorNet), then mmpretrain's conversions.
_MMPRETRAIN = 'https://download.openmmlab.com/mmclassification/v0/hornet/'
_OFFICIAL_README = 'HorNet README (raoyongming/HorNet), ImageNet-1K model zoo'


def _hornet(
    arch: str,
    official_name: str,
    official_url: str,
    mmpretrain_file: str,
    top1: float,
    params: float,
):
    """The official file (Tsinghua Cloud, a direct download) first, then mmpretrain's
    conversion of it (the OpenMMLab file name ends in its sha256's first 8 hex digits)."""
    return PretrainedWeights(
        name=f'hornet-{arch}',
        family='hornet',
        model=dict(type='HorNet', arch=arch),
        sources=(
            WeightSource(
                url=official_url,
                filename=official_name,
                layout='official',
                page='https://github.com/raoyongming/HorNet#model-zoo',
            ),
            WeightSource(
                url=_MMPRETRAIN + mmpretrain_file,
                filename=mmpretrain_file,
                layout='mmpretrain',
                sha256=mmpretrain_file.rsplit('-', 1)[1].split('.')[0],
            ),
        ),
        top1=top1,
        top1_source=_OFFICIAL_README,
        params=params,
    )


register_weights(
    _hornet(
        'tiny',
        'hornet_tiny_7x7.pth',
        'https://cloud.tsinghua.edu.cn/f/762f05c3c8cd4743b534/?dl=1',
        'hornet-tiny_3rdparty_in1k_20220915-0e8eedff.pth',
        82.8,
        22,
    ),
    _hornet(
        'tiny-gf',
        'hornet_tiny_gf.pth',
        'https://cloud.tsinghua.edu.cn/f/395dd6c443ed4a339739/?dl=1',
        'hornet-tiny-gf_3rdparty_in1k_20220915-4c35a66b.pth',
        83.0,
        23,
    ),
    _hornet(
        'small',
        'hornet_small_7x7.pth',
        'https://cloud.tsinghua.edu.cn/f/9d7043023da14e4b8b2e/?dl=1',
        'hornet-small_3rdparty_in1k_20220915-5935f60f.pth',
        84.0,
        50,
    ),
    _hornet(
        'small-gf',
        'hornet_small_gf.pth',
        'https://cloud.tsinghua.edu.cn/f/19eef725b2e64692b8b0/?dl=1',
        'hornet-small-gf_3rdparty_in1k_20220915-649ca492.pth',
        84.2,
        50,
    ),
    _hornet(
        'base',
        'hornet_base_7x7.pth',
        'https://cloud.tsinghua.edu.cn/f/836ab04898c646c389ce/?dl=1',
        'hornet-base_3rdparty_in1k_20220915-a06176bb.pth',
        84.3,
        87,
    ),
    _hornet(
        'base-gf',
        'hornet_base_gf.pth',
        'https://cloud.tsinghua.edu.cn/f/60f706e36f6b4098a1f9/?dl=1',
        'hornet-base-gf_3rdparty_in1k_20220915-82c06fa7.pth',
        84.5,
        88,
    ),
)


# ODConv: OD-ResNet and OD-MobileNetV2 (OSVAI/ODConv), and the plain baselines.
_ODCONV_README = 'ODConv README (OSVAI/ODConv), ImageNet results table'
_DRIVE = 'https://drive.google.com/file/d/{}/view?usp=sharing'
_TORCHVISION = 'https://download.pytorch.org/models/'


def _od(name: str, arch: dict, drive_id: str, top1: float, params: float):
    """An official ODConv release: a Google Drive page that no program can download from.
    Drive does not show the file's name to mmlight, so the file is looked for under
    ``NAME.pth.tar`` (the format of the official main.py's checkpoints)."""
    return PretrainedWeights(
        name=name,
        family=arch["family"],
        model=arch["model"],
        sources=(
            WeightSource(
                url=None,
                filename=f'{name}.pth.tar',
                layout='official',
                page=_DRIVE.format(drive_id),
            ),
        ),
        top1=top1,
        top1_source=_ODCONV_README,
        params=params,
    )


def _baseline(
    name: str,
    model: dict,
    torchvision_file: str,
    drive_id: str,
    top1: float,
    weights_enum: str,
    params: float,
):
    """A plain baseline: torchvision's file (its name ends in its sha256's first hex digits),
    then the ODConv authors' own baseline on Google Drive."""
    return PretrainedWeights(
        name=name,
        family=model['type'].lower(),
        model=model,
        sources=(
            WeightSource(
                url=_TORCHVISION + torchvision_file,
                filename=torchvision_file,
                layout='torchvision',
                sha256=torchvision_file.rsplit('-', 1)[1].split('.')[0],
            ),
            WeightSource(
                url=None,
                filename=f'odconv_{name}_baseline.pth.tar',
                layout='official',
                page=_DRIVE.format(drive_id),
            ),
        ),
        top1=top1,
        top1_source=f'torchvision model docs ({weights_enum}.IMAGENET1K_V1)',
        params=params,
    )


def _odresnet(depth, kernel_num):
    return dict(
        family='odresnet',
        model=dict(
            type='ODResNet', depth=depth, od_cfg=dict(kernel_num=kernel_num, reduction=0.0625)
        ),
    )


def _odmobilenetv2(kernel_num):
    return dict(
        family='odmobilenetv2',
        model=dict(
            type='ODMobileNetV2',
            widen_factor=1.0,
            od_cfg=dict(kernel_num=kernel_num, reduction=0.0625),
        ),
    )


register_weights(
    _od('od_resnet18_1x', _odresnet(18, 1), '1AxCKAHJve3fbe2SnvoHsSucNvjv5Dxow', 73.05, 11.94),
    _od('od_resnet18_4x', _odresnet(18, 4), '1Krsaa0fBKluFCyO7nmg-R9LlsoSUjJj2', 74.19, 44.90),
    _od('od_resnet50_1x', _odresnet(50, 1), '1Aqwv6uQ9iI8a8Z5vjqmKuSTar0U8gfVJ', 77.87, 28.64),
    _od('od_resnet50_4x', _odresnet(50, 4), '1uO774twnIYLiDV2BAsVM136k4EAhs6oh', 78.50, 90.67),
    _od('od_mobilenetv2_1x', _odmobilenetv2(1), '1Du_AH_pvtFE8ABg_FLjtPccVypw5AajU', 74.74, 4.94),
    _od('od_mobilenetv2_4x', _odmobilenetv2(4), '1HfwoBWOGsiiuhoOyetoQeJ8iXrCi5lJv', 75.29, 11.51),
    # The plain baselines come from torchvision (a program can download them). The ODConv
    # paper's own baselines (MobileNetV2 71.65 %, ResNet-50 76.23 %, Google Drive) are the
    # second source: put that file in MMLIGHT_WEIGHTS_DIR under its name to use it instead.
    _baseline(
        'mobilenetv2_1.0x',
        dict(type='ODMobileNetV2', widen_factor=1.0, od_cfg=None),
        'mobilenet_v2-b0353104.pth',
        '1bcqVXDLqHW3cid4eMZ_992QHBRMalrMZ',
        71.878,
        'MobileNet_V2_Weights',
        3.50,
    ),
    _baseline(
        'resnet50',
        dict(type='ODResNet', depth=50, od_cfg=None),
        'resnet50-0676ba61.pth',
        '1dFMbV1QkKQOain1_4JhAuHAW9Xq_ZzCS',
        76.130,
        'ResNet50_Weights',
        25.56,
    ),
)


# ShuffleNetV2 (torchvision) and ShuffleNetV1 (mmpretrain).
_TORCHVISION_DOCS = 'torchvision model docs (ShuffleNet_V2_X*_Weights.IMAGENET1K_V1)'


def _shufflenetv2(width: float, filename: str, sha256: str, top1: float, params: float):
    # torchvision's file names end in the first hex digits of the file's sha256
    return PretrainedWeights(
        name=f'shufflenetv2_{width}x',
        family='shufflenetv2',
        model=dict(type='ShuffleNetV2', widen_factor=width),
        sources=(
            WeightSource(
                url=_TORCHVISION + filename, filename=filename, layout='torchvision', sha256=sha256
            ),
        ),
        top1=top1,
        top1_source=_TORCHVISION_DOCS,
        params=params,
    )


register_weights(
    # torchvision's weights are the official PyTorch ShuffleNetV2 weights (the paper's code
    # is Megvii's Caffe/MegEngine); the paper reports 60.3 / 69.4 / 72.6 / 74.9.
    _shufflenetv2(0.5, 'shufflenetv2_x0.5-f707e7126e.pth', 'f707e7126e', 60.552, 1.37),
    _shufflenetv2(1.0, 'shufflenetv2_x1-5666bf0f80.pth', '5666bf0f80', 69.362, 2.28),
    _shufflenetv2(1.5, 'shufflenetv2_x1_5-3c479a10.pth', '3c479a10', 72.996, 3.50),
    _shufflenetv2(2.0, 'shufflenetv2_x2_0-8be3c8ee.pth', '8be3c8ee', 76.230, 7.39),
    PretrainedWeights(
        name='shufflenetv1_g3_1.0x',
        family='shufflenetv1',
        model=dict(type='ShuffleNetV1', groups=3, widen_factor=1.0),
        # OpenMMLab's file names end in the first 8 hex digits of the file's sha256
        sources=(
            WeightSource(
                url='https://download.openmmlab.com/mmclassification/v0/shufflenet_v1/'
                'shufflenet_v1_batch1024_imagenet_20200804-5d6cec73.pth',
                filename='shufflenet_v1_batch1024_imagenet_20200804-5d6cec73.pth',
                layout='mmpretrain',
                sha256='5d6cec73',
            ),
        ),
        top1=68.13,
        top1_source='mmpretrain model zoo (configs/shufflenet_v1/README.md)',
        params=1.87,
    ),
)
