"""The model zoo: networks whose training traffic the simulator measures.

Every net is built from ordinary ``nn.Conv2d`` / ``nn.Linear`` / ``nn.BatchNorm2d`` / pooling
modules so that forward hooks on those modules see every layer, and every net accepts any
``in_shape = (channels, height, width)`` down to 28x28 and any number of classes (flattened
sizes are derived from ``in_shape``; convolutional nets end in adaptive average pooling).
No weight initialisation is done here beyond PyTorch defaults.

Nets (``build_net`` names):

* ``lenet-300-100``: MLP prod(in_shape)-300-100-classes with ReLU (266,610 parameters at 1x28x28).
* ``lenet-5``: LeCun's LeNet-5 with ReLU and average pooling; the first conv is padded by 2
  when the input is smaller than 32x32, so a 28x28 input behaves as the 32x32 original
  (61,706 parameters at 1x28x28, 10 classes).
* ``vgg-s``: the DropBack paper's "VGG-S", a 9x-reduced VGG-16 for CIFAR.  Our reading:
  VGG-16's 13 conv layers (3x3, BN, ReLU; 5 max-pools) with every channel width divided by 3,
  rounded to nearest (64->21, 128->43, 256->85, 512->171), so conv parameters shrink ~9x,
  then adaptive average pooling to 1x1 and a single linear classifier.  Convs carry no bias
  (BN follows each).  Max-pools use ``ceil_mode=True`` so 28x28 inputs shrink 28-14-7-4-2-1.
  ``vgg16(..., width_divisor=1)`` builds the full-width net with the same builder.
* ``resnet-18``: ResNet-18 (BasicBlock [2, 2, 2, 2], widths 64-512, 1x1 conv+BN projection
  shortcuts) with a CIFAR stem (3x3 conv, stride 1, no max-pool).
* ``resnet-18-imagenet``: the same with the ImageNet stem (7x7 stride-2 conv, 3x3 max-pool);
  11,689,512 parameters at 3x224x224 with 1000 classes, as torchvision.
* ``resnet-20``: He et al.'s CIFAR ResNet-20 (3 stages x 3 BasicBlocks, widths 16/32/64) with
  parameter-free option-A shortcuts (stride-2 subsampling, zero-padded channels): 269,722
  parameters at 3x32x32 with 10 classes.  The often-quoted 272,474 is the same net with
  option-B (1x1 conv+BN) projections, ``resnet_20(..., shortcut="B")``.
* ``wrn-D-K``: Zagoruyko & Komodakis' pre-activation wide ResNet of depth D ((D - 4) % 6 == 0)
  and widen factor K, dropout 0, 1x1 conv shortcuts where the shape changes.
* ``densenet-bc`` (= ``densenet-bc-100-12``), ``densenet-bc-L-k``: DenseNet-BC for CIFAR,
  3 dense blocks of (L - 4) / 6 bottleneck layers (BN-ReLU-1x1 conv to 4k, BN-ReLU-3x3 conv
  to k), transitions with compression 0.5 and 2x2 average pooling.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from accelsim.errors import ConfigError

InShape = Sequence[int]


def _check_shape(in_shape: InShape, num_classes: int) -> tuple[int, int, int]:
    """Validate ``in_shape`` (C, H, W) and ``num_classes``; return the shape as a tuple."""
    shape = tuple(int(s) for s in in_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ConfigError(f"in_shape must be (channels, height, width) > 0, got {tuple(in_shape)}")
    if int(num_classes) < 1:
        raise ConfigError(f"num_classes must be at least 1, got {num_classes}")
    return shape  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------
# LeNets


def lenet_300_100(in_shape: InShape = (1, 28, 28), num_classes: int = 10) -> nn.Module:
    """LeNet-300-100: fully connected prod(in_shape)-300-100-classes with ReLU."""
    shape = _check_shape(in_shape, num_classes)
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(math.prod(shape), 300),
        nn.ReLU(inplace=True),
        nn.Linear(300, 100),
        nn.ReLU(inplace=True),
        nn.Linear(100, num_classes),
    )


def lenet_5(in_shape: InShape = (1, 28, 28), num_classes: int = 10) -> nn.Module:
    """LeNet-5: conv 6@5x5, pool, conv 16@5x5, pool, fc 120, fc 84, fc classes (ReLU)."""
    channels, height, width = _check_shape(in_shape, num_classes)
    pad = 2 if min(height, width) < 32 else 0

    def out_size(size: int) -> int:
        return ((size + 2 * pad - 4) // 2 - 4) // 2

    flat = 16 * out_size(height) * out_size(width)
    if out_size(height) < 1 or out_size(width) < 1:
        raise ConfigError(f"lenet-5 needs inputs of at least 12x12, got {height}x{width}")
    return nn.Sequential(
        nn.Conv2d(channels, 6, 5, padding=pad),
        nn.ReLU(inplace=True),
        nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.ReLU(inplace=True),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(flat, 120),
        nn.ReLU(inplace=True),
        nn.Linear(120, 84),
        nn.ReLU(inplace=True),
        nn.Linear(84, num_classes),
    )


# ---------------------------------------------------------------------------------------------
# VGG

VGG16_WIDTHS: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M",
)  # fmt: skip


def vgg16(
    in_shape: InShape = (3, 32, 32), num_classes: int = 10, width_divisor: float = 1
) -> nn.Module:
    """CIFAR VGG-16 (conv-BN-ReLU, ceil-mode max-pools, one linear) with widths / divisor."""
    channels, _, _ = _check_shape(in_shape, num_classes)
    if width_divisor <= 0:
        raise ConfigError(f"width_divisor must be positive, got {width_divisor}")
    layers: list[nn.Module] = []
    for item in VGG16_WIDTHS:
        if item == "M":
            layers.append(nn.MaxPool2d(2, ceil_mode=True))
            continue
        width = max(1, round(int(item) / width_divisor))
        layers += [
            nn.Conv2d(channels, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        ]
        channels = width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes)]
    return nn.Sequential(*layers)


def vgg_s(in_shape: InShape = (3, 32, 32), num_classes: int = 10) -> nn.Module:
    """VGG-S: VGG-16 with every width divided by 3 (~9x fewer conv parameters)."""
    return vgg16(in_shape, num_classes, width_divisor=3)


# ---------------------------------------------------------------------------------------------
# ResNets


class BasicBlock(nn.Module):
    """Post-activation residual block: conv3x3-BN-ReLU-conv3x3-BN, add shortcut, ReLU.

    Where the shape changes the shortcut is ``"B"``: 1x1 conv+BN, or ``"A"``: zero padding.
    """

    def __init__(self, in_planes: int, planes: int, stride: int = 1, shortcut: str = "B"):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_planes != planes:
            if shortcut == "A":
                self.shortcut = ZeroPadShortcut(in_planes, planes, stride)
            else:
                self.shortcut = nn.Sequential(
                    nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False),
                    nn.BatchNorm2d(planes),
                )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ZeroPadShortcut(nn.Module):
    """Option-A shortcut: subsample by ``stride`` and zero-pad the extra channels."""

    def __init__(self, in_planes: int, planes: int, stride: int):
        super().__init__()
        self.stride = stride
        self.pad_front = (planes - in_planes) // 2
        self.pad_back = planes - in_planes - self.pad_front

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, self.pad_front, self.pad_back))


class ResNet(nn.Module):
    """Stem, stages of BasicBlocks (first block of a later stage strides 2), pool, fc."""

    def __init__(
        self,
        stem: nn.Module,
        stem_width: int,
        widths: Sequence[int],
        blocks: Sequence[int],
        num_classes: int,
        shortcut: str = "B",
    ):
        super().__init__()
        self.stem = stem
        stages = []
        in_planes = stem_width
        for i, (planes, count) in enumerate(zip(widths, blocks, strict=True)):
            stage = []
            for j in range(count):
                stride = 2 if i > 0 and j == 0 else 1
                stage.append(BasicBlock(in_planes, planes, stride, shortcut))
                in_planes = planes
            stages.append(nn.Sequential(*stage))
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_planes, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.stem(x))
        return self.fc(torch.flatten(self.pool(x), 1))


def _resnet_18(in_shape: InShape, num_classes: int, imagenet_stem: bool) -> nn.Module:
    channels, _, _ = _check_shape(in_shape, num_classes)
    if imagenet_stem:
        stem = nn.Sequential(
            nn.Conv2d(channels, 64, 7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
    else:
        stem = nn.Sequential(
            nn.Conv2d(channels, 64, 3, padding=1, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
        )
    return ResNet(stem, 64, (64, 128, 256, 512), (2, 2, 2, 2), num_classes)


def resnet_18(in_shape: InShape = (3, 32, 32), num_classes: int = 10) -> nn.Module:
    """ResNet-18 with the CIFAR stem (3x3 conv, stride 1, no max-pool)."""
    return _resnet_18(in_shape, num_classes, imagenet_stem=False)


def resnet_18_imagenet(in_shape: InShape = (3, 224, 224), num_classes: int = 1000) -> nn.Module:
    """ResNet-18 with the ImageNet stem (7x7 stride-2 conv, 3x3 stride-2 max-pool)."""
    return _resnet_18(in_shape, num_classes, imagenet_stem=True)


def resnet_20(
    in_shape: InShape = (3, 32, 32), num_classes: int = 10, shortcut: str = "A"
) -> nn.Module:
    """He et al.'s CIFAR ResNet-20: 3 stages x 3 blocks, widths 16/32/64.

    ``shortcut="A"`` (the paper's CIFAR choice, the registered net): parameter-free
    subsample-and-zero-pad shortcuts, 269,722 parameters (3 channels, 10 classes).
    ``shortcut="B"``: 1x1 conv+BN projections where the shape changes, 272,474 parameters.
    """
    channels, _, _ = _check_shape(in_shape, num_classes)
    if shortcut not in ("A", "B"):
        raise ConfigError(f"resnet-20 shortcut must be 'A' or 'B', got {shortcut!r}")
    stem = nn.Sequential(
        nn.Conv2d(channels, 16, 3, padding=1, bias=False),
        nn.BatchNorm2d(16),
        nn.ReLU(inplace=True),
    )
    return ResNet(stem, 16, (16, 32, 64), (3, 3, 3), num_classes, shortcut=shortcut)


# ---------------------------------------------------------------------------------------------
# Wide ResNet


class PreActBlock(nn.Module):
    """WRN block: BN-ReLU-conv3x3-BN-ReLU-(dropout)-conv3x3 plus shortcut."""

    def __init__(self, in_planes: int, planes: int, stride: int, dropout: float = 0.0):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.shortcut: nn.Module | None = None
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = F.relu(self.bn1(x))
        out = self.conv1(pre)
        out = self.conv2(self.dropout(F.relu(self.bn2(out))))
        # The projection sees the pre-activated input, as in the authors' code.
        return out + (x if self.shortcut is None else self.shortcut(pre))


class WideResNet(nn.Module):
    """WRN-depth-widen for CIFAR: 3x3 conv 16, 3 groups of PreActBlocks, BN-ReLU, pool, fc."""

    def __init__(
        self,
        depth: int,
        widen: int,
        in_channels: int = 3,
        num_classes: int = 10,
        dropout: float = 0.0,
    ):
        super().__init__()
        if depth < 10 or (depth - 4) % 6 or widen < 1:
            raise ConfigError(
                f"wide ResNet needs depth >= 10 with (depth - 4) % 6 == 0 and widen >= 1, "
                f"got depth {depth}, widen {widen}"
            )
        per_group = (depth - 4) // 6
        self.conv1 = nn.Conv2d(in_channels, 16, 3, padding=1, bias=False)
        groups = []
        in_planes = 16
        for i, planes in enumerate((16 * widen, 32 * widen, 64 * widen)):
            group = []
            for j in range(per_group):
                stride = 2 if i > 0 and j == 0 else 1
                group.append(PreActBlock(in_planes, planes, stride, dropout))
                in_planes = planes
            groups.append(nn.Sequential(*group))
        self.groups = nn.Sequential(*groups)
        self.bn = nn.BatchNorm2d(in_planes)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_planes, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn(self.groups(self.conv1(x))))
        return self.fc(torch.flatten(self.pool(x), 1))


def wide_resnet(
    in_shape: InShape = (3, 32, 32), num_classes: int = 10, depth: int = 28, widen: int = 10
) -> nn.Module:
    """Wide ResNet WRN-depth-widen (pre-activation, dropout 0)."""
    channels, _, _ = _check_shape(in_shape, num_classes)
    return WideResNet(depth, widen, channels, num_classes)


# ---------------------------------------------------------------------------------------------
# DenseNet-BC


class DenseLayer(nn.Module):
    """Bottleneck layer: BN-ReLU-conv1x1 (4k) -BN-ReLU-conv3x3 (k), concatenated to the input."""

    def __init__(self, in_planes: int, growth: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, 4 * growth, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(4 * growth)
        self.conv2 = nn.Conv2d(4 * growth, growth, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(F.relu(self.bn1(x)))
        out = self.conv2(F.relu(self.bn2(out)))
        return torch.cat([x, out], 1)


class Transition(nn.Module):
    """Transition: BN-ReLU-conv1x1 (compressed channels), 2x2 average pooling."""

    def __init__(self, in_planes: int, out_planes: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(in_planes)
        self.conv = nn.Conv2d(in_planes, out_planes, 1, bias=False)
        self.pool = nn.AvgPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.conv(F.relu(self.bn(x))))


class DenseNetBC(nn.Module):
    """DenseNet-BC for CIFAR: 3x3 conv 2k, 3 dense blocks with 2 transitions, BN-ReLU, pool, fc."""

    def __init__(
        self,
        depth: int = 100,
        growth: int = 12,
        in_channels: int = 3,
        num_classes: int = 10,
        compression: float = 0.5,
    ):
        super().__init__()
        if depth < 10 or (depth - 4) % 6 or growth < 1:
            raise ConfigError(
                f"DenseNet-BC needs depth >= 10 with (depth - 4) % 6 == 0 and growth >= 1, "
                f"got depth {depth}, growth {growth}"
            )
        per_block = (depth - 4) // 6
        planes = 2 * growth
        self.conv1 = nn.Conv2d(in_channels, planes, 3, padding=1, bias=False)
        stages: list[nn.Module] = []
        for block in range(3):
            for _ in range(per_block):
                stages.append(DenseLayer(planes, growth))
                planes += growth
            if block < 2:
                out_planes = int(math.floor(planes * compression))
                stages.append(Transition(planes, out_planes))
                planes = out_planes
        self.features = nn.Sequential(*stages)
        self.bn = nn.BatchNorm2d(planes)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(planes, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn(self.features(self.conv1(x))))
        return self.fc(torch.flatten(self.pool(x), 1))


def densenet_bc(
    in_shape: InShape = (3, 32, 32), num_classes: int = 10, depth: int = 100, growth: int = 12
) -> nn.Module:
    """DenseNet-BC-depth-growth (bottleneck, compression 0.5)."""
    channels, _, _ = _check_shape(in_shape, num_classes)
    return DenseNetBC(depth, growth, channels, num_classes)


# ---------------------------------------------------------------------------------------------
# Registry

NETS: dict[str, Callable[..., nn.Module]] = {
    "lenet-300-100": lenet_300_100,
    "lenet-5": lenet_5,
    "vgg-s": vgg_s,
    "resnet-18": resnet_18,
    "resnet-18-imagenet": resnet_18_imagenet,
    "resnet-20": resnet_20,
    "wrn-28-10": partial(wide_resnet, depth=28, widen=10),
    "densenet-bc": densenet_bc,
}

_WRN_NAME = re.compile(r"wrn-(\d+)-(\d+)")
_DENSENET_NAME = re.compile(r"densenet-bc-(\d+)-(\d+)")


def net_names() -> list[str]:
    """Registered net names (``build_net`` also takes any ``wrn-D-K`` / ``densenet-bc-L-k``)."""
    return list(NETS)


def build_net(name: str, in_shape: InShape = (1, 28, 28), num_classes: int = 10) -> nn.Module:
    """Build the net called ``name`` for inputs of ``in_shape`` (C, H, W) and ``num_classes``."""
    if name in NETS:
        return NETS[name](in_shape, num_classes)
    if match := _WRN_NAME.fullmatch(name):
        depth, widen = (int(g) for g in match.groups())
        return wide_resnet(in_shape, num_classes, depth=depth, widen=widen)
    if match := _DENSENET_NAME.fullmatch(name):
        depth, growth = (int(g) for g in match.groups())
        return densenet_bc(in_shape, num_classes, depth=depth, growth=growth)
    raise ConfigError(
        f"unknown net {name!r}; valid names: {', '.join(net_names())}, "
        "wrn-D-K (any depth D with (D - 4) % 6 == 0, widen factor K), densenet-bc-L-k"
    )
