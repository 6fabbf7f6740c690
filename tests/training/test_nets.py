"""Model zoo: parameter counts against published numbers, forward shapes, name handling."""

import pytest
import torch
from torch import nn

from accelsim.errors import ConfigError
from accelsim.training.nets import NETS, build_net, net_names, resnet_20, vgg16, vgg_s

MNIST = (1, 28, 28)
CIFAR = (3, 32, 32)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def meta_params(name: str, in_shape=CIFAR, num_classes: int = 10) -> int:
    """Parameter count of a net built on the meta device (no memory allocated)."""
    with torch.device("meta"):
        return n_params(build_net(name, in_shape, num_classes))


def densenet_bc_params(depth: int, growth: int, in_channels: int, num_classes: int) -> int:
    """Hand count of DenseNet-BC: BN has 2 parameters a channel, convs have no bias."""
    per_block, k = (depth - 4) // 6, growth
    planes = 2 * k
    total = in_channels * planes * 3 * 3  # stem 3x3 conv
    for block in range(3):
        for i in range(per_block):
            c = planes + i * k
            total += 2 * c + c * 4 * k  # BN-ReLU-conv1x1 to 4k
            total += 2 * 4 * k + 4 * k * k * 3 * 3  # BN-ReLU-conv3x3 to k
        planes += per_block * k
        if block < 2:
            total += 2 * planes + planes * (planes // 2)  # transition BN + conv1x1
            planes //= 2
    return total + 2 * planes + planes * num_classes + num_classes  # final BN + fc


@pytest.mark.parametrize(
    ("name", "in_shape", "num_classes", "expected"),
    [
        ("lenet-300-100", MNIST, 10, 266_610),
        ("lenet-5", MNIST, 10, 61_706),
        ("resnet-18-imagenet", (3, 224, 224), 1000, 11_689_512),  # torchvision
        ("resnet-20", CIFAR, 10, 269_722),  # option A: shortcuts carry no parameters
        ("wrn-28-10", CIFAR, 10, 36_479_194),  # published "36.5M"
    ],
)
def test_exact_parameter_counts(name, in_shape, num_classes, expected):
    assert meta_params(name, in_shape, num_classes) == expected


def test_resnet_20_option_b_adds_projection_parameters():
    # 16->32 and 32->64 1x1 conv+BN projections: (512 + 64) + (2048 + 128) = 2752.
    with torch.device("meta"):
        assert n_params(resnet_20(CIFAR, 10, shortcut="B")) == 269_722 + 2752 == 272_474


def test_densenet_bc_matches_hand_count_and_paper():
    count = meta_params("densenet-bc")
    assert count == densenet_bc_params(100, 12, 3, 10) == 769_162
    assert abs(count - 0.8e6) / 0.8e6 < 0.05
    assert meta_params("densenet-bc-40-12") == densenet_bc_params(40, 12, 3, 10)


def test_vgg_s_is_a_ninth_of_vgg16():
    with torch.device("meta"):
        small, full = vgg_s(CIFAR, 10), vgg16(CIFAR, 10)
    widths = sorted({m.out_channels for m in small.modules() if isinstance(m, nn.Conv2d)})
    assert widths == [21, 43, 85, 171]
    assert sum(isinstance(m, nn.Conv2d) for m in small.modules()) == 13
    assert 8.5 < n_params(full) / n_params(small) < 9.5


def test_any_wide_resnet_name_builds():
    with torch.device("meta"):
        model = build_net("wrn-16-4", CIFAR, 10)
    assert next(model.parameters()).device.type == "meta"
    convs = sum(isinstance(m, nn.Conv2d) for m in model.modules())
    assert convs == 1 + 3 * 2 * 2 + 3  # stem, 3 groups x 2 blocks x 2 convs, 3 shortcuts
    with pytest.raises(ConfigError):
        build_net("wrn-27-10")


@pytest.mark.parametrize(("in_shape", "num_classes"), [(MNIST, 10), (CIFAR, 7)])
@pytest.mark.parametrize("name", sorted(NETS))
def test_forward_shape(name, in_shape, num_classes):
    model = build_net(name, in_shape, num_classes).eval()
    with torch.no_grad():
        out = model(torch.randn(2, *in_shape))
    assert out.shape == (2, num_classes)


def test_layers_are_hookable_modules():
    model = build_net("lenet-5")
    assert sum(isinstance(m, nn.Conv2d) for m in model.modules()) == 2
    assert sum(isinstance(m, nn.Linear) for m in model.modules()) == 3


def test_unknown_name_lists_valid_names():
    with pytest.raises(ConfigError) as err:
        build_net("alexnet")
    for name in net_names():
        assert name in str(err.value)
    assert net_names() == list(NETS)
