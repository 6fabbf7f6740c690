"""SWD: penalty formula and gradient, geometric schedule, masks, hard prune, structured mode."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from accelsim.errors import ConfigError
from accelsim.training.methods import METHODS, SelectiveWeightDecay
from accelsim.training.nets import build_net


def mlp(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(12, 10), nn.ReLU(), nn.Linear(10, 4))


def conv_bn_net(seed: int = 0) -> nn.Module:
    """Two conv+BN pairs (the second conv with a bias) and a linear head: 1,504 parameters."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, bias=False),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Conv2d(8, 16, 3),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 4),
    )


def train(model, method, optimizer, steps: int, in_shape=(12,), seed: int = 0) -> None:
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x = torch.randn(16, *in_shape, generator=generator)
        y = torch.randint(0, 4, (16,), generator=generator)
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()


def scored_weights(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().abs().flatten() for p in model.parameters()])


def test_registered():
    assert METHODS["swd"] is SelectiveWeightDecay
    assert SelectiveWeightDecay.name == "swd"


def test_schedule_is_geometric_from_a_min_to_a_max():
    swd = SelectiveWeightDecay(mlp(), a_min=0.1, a_max=1e5, total_steps=100,
                               finetune_fraction=0.0)
    assert swd.schedule(0) == pytest.approx(0.1)
    assert swd.schedule(100) == pytest.approx(1e5)
    assert swd.schedule(250) == pytest.approx(1e5)  # clamped after T
    assert swd.schedule(50) == pytest.approx(math.sqrt(0.1 * 1e5))
    ratios = [swd.schedule(t + 1) / swd.schedule(t) for t in range(100)]
    assert ratios == pytest.approx([1e6 ** (1 / 100)] * 100)
    assert swd.coefficient(100) == pytest.approx(5e-4 * 1e5)
    assert swd.coefficient() == pytest.approx(5e-4 * 0.1)  # step_count 0


def test_penalty_matches_hand_computation():
    model = mlp()
    swd = SelectiveWeightDecay(model, target=0.75, weight_decay=1e-3, total_steps=20,
                               finetune_fraction=0.0)
    swd.step_count = 7
    magnitudes = scored_weights(model)
    keep = round(0.25 * magnitudes.numel())
    threshold = magnitudes.sort(descending=True).values[keep - 1]
    dropped = magnitudes[magnitudes < threshold]
    a = 0.1 * (1e6 / 0.1) ** (7 / 20)
    expected = 1e-3 * a / 2 * (dropped**2).sum()
    assert swd.penalty().item() == pytest.approx(expected.item(), rel=1e-5)


def test_hook_gradient_equals_autograd_of_penalty():
    model = mlp()
    swd = SelectiveWeightDecay(model, target=0.6, total_steps=10, finetune_fraction=0.0)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)  # cap 1/lr = 1000: inactive
    swd.attach(optimizer)
    swd.step_count = 6
    params = list(model.parameters())
    expected = torch.autograd.grad(swd.penalty(), params)
    for p in params:
        p.grad = torch.zeros_like(p)
    swd.before_step()
    for p, g in zip(params, expected, strict=True):
        torch.testing.assert_close(p.grad, g)
        assert g.abs().sum() > 0


def test_mask_keeps_exactly_target_fraction_of_largest():
    model = mlp()
    swd = SelectiveWeightDecay(model, target=0.9, total_steps=10, finetune_fraction=0.0)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    swd.before_step()
    masks = [swd.keep_mask(name) for name, _ in model.named_parameters()]
    kept = torch.cat([m.flatten() for m in masks])
    magnitudes = scored_weights(model)
    assert int(kept.sum()) == round(0.1 * magnitudes.numel())
    assert magnitudes[kept].min() > magnitudes[~kept].max()


def test_clamp_caps_coefficient_at_inverse_lr():
    model = mlp()
    swd = SelectiveWeightDecay(model, target=0.5, total_steps=10, finetune_fraction=0.0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    swd.attach(optimizer)
    swd.step_count = 10  # coefficient 5e-4 * 1e6 = 500 > 1 / lr = 10
    weights = {name: p.detach().clone() for name, p in model.named_parameters()}
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    swd.before_step()
    for name, p in model.named_parameters():
        dropped = ~swd.keep_mask(name)
        torch.testing.assert_close(p.grad[dropped], 10.0 * weights[name][dropped])
        assert (p.grad[~dropped] == 0).all()


@pytest.mark.parametrize(("momentum", "final_ratio"), [(0.0, 0.05), (0.9, 0.1)])
def test_weights_outside_mask_shrink_toward_zero(momentum, final_ratio):
    model = mlp()
    swd = SelectiveWeightDecay(model, target=0.8, total_steps=60, finetune_fraction=0.0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=momentum)
    swd.attach(optimizer)
    start = scored_weights(model)
    ratios = []
    for chunk in range(3):
        train(model, swd, optimizer, 20, seed=chunk)
        kept = torch.cat([swd.keep_mask(name).flatten() for name, _ in model.named_parameters()])
        end = scored_weights(model)
        ratios.append(float(end[~kept].norm() / start[~kept].norm()))
    assert torch.isfinite(end).all()
    assert ratios[0] > ratios[1] > ratios[2] and ratios[2] < final_ratio
    assert end[kept].norm() > 0.5 * start[kept].norm()


def test_stored_mask_all_true_until_finalize_then_exactly_mask():
    model = mlp()
    swd = SelectiveWeightDecay(model, target=0.7, total_steps=20, finetune_fraction=0.0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    swd.attach(optimizer)
    train(model, swd, optimizer, 20)
    assert swd.stored_count() == swd.total_count()
    assert all(swd.mask_delta(name) is None for name, _ in model.named_parameters())
    swd.finalize()
    for name, p in model.named_parameters():
        stored = swd.stored_mask(name)
        assert stored.shape == p.shape
        assert (p[~stored] == 0).all() and (p[stored] != 0).all()
        entered, left = swd.mask_delta(name)
        assert entered.numel() == 0
        assert torch.equal(left, (~stored).flatten().nonzero().squeeze(1))
        assert swd.structure_mask(name) is None
    assert swd.stored_count() == round(0.3 * swd.total_count())


def test_training_after_finalize_keeps_pruned_weights_zero():
    model = mlp()
    swd = SelectiveWeightDecay(model, target=0.7, total_steps=10, finetune_fraction=0.0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3)
    swd.attach(optimizer)
    train(model, swd, optimizer, 10)
    swd.finalize()
    train(model, swd, optimizer, 10, seed=1)
    for name, p in model.named_parameters():
        assert (p[~swd.stored_mask(name)] == 0).all()
        assert swd.mask_delta(name) is None


def test_norm_parameters_are_not_scored():
    model = conv_bn_net()
    swd = SelectiveWeightDecay(model, target=0.5, total_steps=10, finetune_fraction=0.0)
    assert swd.keep_mask("1.weight") is None and swd.keep_mask("1.bias") is None
    assert swd.keep_mask("0.weight") is not None and swd.keep_mask("3.bias") is not None


def test_structured_pairs_batchnorm_with_preceding_conv():
    swd = SelectiveWeightDecay(conv_bn_net(), structured=True, target=0.5, total_steps=10,
                               finetune_fraction=0.0)
    assert [(g.gamma.name, g.conv_weight.name) for g in swd.groups] == [
        ("1.weight", "0.weight"),
        ("4.weight", "3.weight"),
    ]
    assert swd.groups[0].conv_bias is None and swd.groups[1].conv_bias.name == "3.bias"
    assert [g.params_per_channel for g in swd.groups] == [2 + 27, 2 + 72 + 1]
    resnet = SelectiveWeightDecay(
        build_net("resnet-20", (3, 32, 32)), structured=True, target=0.3, total_steps=10
    )
    pairs = {g.gamma.name: g.conv_weight.name for g in resnet.groups}
    assert pairs["stem.1.weight"] == "stem.0.weight"
    assert pairs["stages.1.0.bn2.weight"] == "stages.1.0.conv2.weight"


def test_structured_mode_without_conv_pairing():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    swd = SelectiveWeightDecay(model, structured=True, target=0.05, total_steps=5,
                               finetune_fraction=0.0)
    assert swd.groups[0].conv_weight is None


def test_structured_prunes_channels_until_accounted_params_hit_target():
    model = conv_bn_net()
    with torch.no_grad():  # distinct gammas, so the ranking is known
        for module in (model[1], model[4]):
            module.weight.copy_(torch.rand(module.num_features) + 0.1)
    swd = SelectiveWeightDecay(model, structured=True, target=0.5, total_steps=10,
                               finetune_fraction=0.0)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    swd.before_step()
    goal = 0.5 * swd.total_count()
    pruned = 0
    for group in swd.groups:
        pruned += int((~swd.keep_mask(group.gamma.name)).sum()) * group.params_per_channel
    assert goal <= pruned < goal + max(g.params_per_channel for g in swd.groups)
    gammas = torch.cat([model[1].weight.abs(), model[4].weight.abs()]).detach()
    keep = torch.cat([swd.keep_mask("1.weight"), swd.keep_mask("4.weight")])
    assert gammas[keep].min() > gammas[~keep].max()
    # the penalty acts on gamma and beta of pruned channels only, never on conv filters
    assert (model[0].weight.grad == 0).all() and (model[3].weight.grad == 0).all()
    assert (model[1].weight.grad[~swd.keep_mask("1.weight")] != 0).all()


def test_structured_gradient_equals_autograd_and_finalize_zeroes_channels():
    model = conv_bn_net()
    with torch.no_grad():
        for module in (model[1], model[4]):
            module.weight.copy_(torch.rand(module.num_features) + 0.1)
            module.bias.copy_(torch.rand(module.num_features) - 0.5)
    swd = SelectiveWeightDecay(model, structured=True, target=0.4, total_steps=10,
                               finetune_fraction=0.0)
    swd.step_count = 4
    params = list(model.parameters())
    expected = torch.autograd.grad(swd.penalty(), params, allow_unused=True)
    for p in params:
        p.grad = torch.zeros_like(p)
    swd.before_step()
    for p, g in zip(params, expected, strict=True):
        torch.testing.assert_close(p.grad, torch.zeros_like(p) if g is None else g)
    assert swd.stored_count() == swd.total_count()
    assert swd.structure_mask("1.weight").all() and swd.structure_mask("1.weight").shape == (8,)
    swd.finalize()
    channels = swd.structure_mask("4.weight")
    assert channels.shape == (16,) and not channels.all()
    for name in ("4.weight", "4.bias", "3.weight", "3.bias"):
        assert torch.equal(swd.structure_mask(name), channels)
    assert (model[3].weight[~channels] == 0).all() and (model[3].bias[~channels] == 0).all()
    assert (model[4].weight[~channels] == 0).all() and (model[4].bias[~channels] == 0).all()
    assert (model[3].weight[channels] != 0).all()
    assert torch.equal(swd.stored_mask("3.weight")[:, 0, 0, 0], channels)
    assert swd.stored_mask("8.weight").all() and swd.structure_mask("8.weight") is None


def test_state_dict_round_trip():
    model = mlp()
    swd = SelectiveWeightDecay(model, target=0.5, total_steps=10, finetune_fraction=0.0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    swd.attach(optimizer)
    train(model, swd, optimizer, 5)
    swd.finalize()
    other = SelectiveWeightDecay(mlp(seed=1), target=0.5, total_steps=10, finetune_fraction=0.0)
    other.load_state_dict(swd.state_dict())
    assert other.step_count == 5 and other.finalized
    for name, _ in model.named_parameters():
        assert torch.equal(other.stored_mask(name), swd.stored_mask(name))
    structured = SelectiveWeightDecay(conv_bn_net(), structured=True, target=0.3, total_steps=5,
                                      finetune_fraction=0.0)
    with pytest.raises(ConfigError):
        structured.load_state_dict(swd.state_dict())


def test_hparams_are_complete():
    swd = SelectiveWeightDecay(mlp(), target=0.8, weight_decay=1e-4, a_max=1e4, total_steps=7,
                               finetune_fraction=0.0)
    hp = swd.hparams()
    assert hp["target"] == 0.8 and hp["weight_decay"] == 1e-4 and hp["a_max"] == 1e4
    assert hp["a_min"] == 0.1 and hp["total_steps"] == 7 and hp["structured"] is False
    assert hp["criterion"] == "magnitude" and hp["kept_weights"] == round(0.2 * 174)


@pytest.mark.parametrize(
    "options",
    [
        {"target": 1.0},
        {"target": -0.1},
        {"a_min": 0.0},
        {"a_min": 10.0, "a_max": 1.0},
        {"weight_decay": -1.0},
        {"total_steps": 0},
        {"structured": True},  # the MLP has no BatchNorm
        {"coefficient_cap": "1/sqrt(lr)"},
        {"schedule_end": "epoch"},
    ],
)
def test_bad_options_raise(options):
    options = {"total_steps": 10, **options}
    with pytest.raises(ConfigError):
        SelectiveWeightDecay(mlp(), **options)


def test_unreachable_structured_target_raises():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(2, 100))
    with pytest.raises(ConfigError, match="unreachable"):
        SelectiveWeightDecay(model, structured=True, target=0.5, total_steps=10,
                             finetune_fraction=0.0)


def test_finetuning_prunes_at_ninety_percent_then_trains_only_the_kept_weights():
    model = mlp()
    swd = SelectiveWeightDecay(model, target=0.8, total_steps=50, finetune_fraction=0.1)
    assert swd.prune_step == 45
    assert swd.schedule(45) == pytest.approx(swd.a_max)  # the penalty peaks at the prune
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    swd.attach(optimizer)
    train(model, swd, optimizer, 44)
    assert not swd.finalized
    assert all(bool(swd.stored_mask(e.name).all()) for e in swd.entries)
    train(model, swd, optimizer, 1)
    assert swd.finalized  # pruned right after step 45
    kept = {e.name: swd.stored_mask(e.name).clone() for e in swd.entries}
    assert sum(int(k.sum()) for k in kept.values()) == swd.keep_count + sum(
        e.numel for e in swd.entries if e.role not in ("weight", "bias"))
    train(model, swd, optimizer, 5)  # fine-tuning: pruned weights stay exactly zero
    for entry in swd.entries:
        assert torch.all(entry.param.detach()[~kept[entry.name]] == 0)
    swd.finalize()  # the loop's own call at the end changes nothing
    assert all(torch.equal(swd.stored_mask(e.name), kept[e.name]) for e in swd.entries)


def test_reference_schedule_end_spans_the_whole_run():
    ours = SelectiveWeightDecay(mlp(), total_steps=100, finetune_fraction=0.1)
    reference = SelectiveWeightDecay(mlp(), total_steps=100, finetune_fraction=0.1,
                                     schedule_end="run")
    assert ours.schedule_steps == ours.prune_step == reference.prune_step == 90
    assert reference.schedule_steps == 100
    assert ours.schedule(90) == pytest.approx(ours.a_max)
    assert reference.schedule(90) == pytest.approx(0.1 * (ours.a_max / 0.1) ** 0.9)
    assert reference.hparams()["schedule_end"] == "run"


@pytest.mark.parametrize(("cap", "expected"), [("1/lr", 1 / 0.5), ("none", 5e-4 * 1e6)])
def test_coefficient_cap_is_an_option(cap, expected):
    """At a(T) = a_max the penalty gradient is wd * a_max * w uncapped, (1/lr) * w capped."""
    model = mlp()
    swd = SelectiveWeightDecay(model, target=0.5, total_steps=1, finetune_fraction=0.0,
                               coefficient_cap=cap)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    swd.attach(optimizer)
    swd.step_count = 1  # the schedule's end: coefficient wd * a_max = 500
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    swd.before_step()
    weight = model[0].weight
    dropped = ~swd.keep_mask("0.weight")
    assert torch.allclose(weight.grad[dropped], expected * weight.detach()[dropped])
