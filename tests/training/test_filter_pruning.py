"""Filter pruning while training: schedule, criteria, pruned filters stay dead, masks, state."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from accelsim.errors import ConfigError
from accelsim.training.methods import METHODS, FilterPruning

CRITERIA = ("l1", "mean_activation", "random")


def conv_net(seed: int = 0) -> nn.Module:
    """conv 8 (bias) + BN, conv 6 (no bias), linear head: two convs to prune."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Conv2d(8, 6, 3, padding=1, bias=False),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(6, 3),
    )


def train(model, optimizer, steps: int, seed: int = 0, check=None) -> None:
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x = torch.randn(8, 1, 6, 6, generator=generator)
        y = torch.randint(0, 3, (8,), generator=generator)
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
        if check is not None:
            check()


def pruned_sets(method: FilterPruning) -> dict[str, list[int]]:
    return {c.layer: c.pruned.nonzero().squeeze(1).tolist() for c in method.convs}


def run_schedule(criterion: str = "l1", target: float = 0.5, seed: int = 0, **options):
    model = conv_net()
    method = FilterPruning(
        model, target=target, criterion=criterion, total_steps=20, seed=seed, **options
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3)
    method.attach(optimizer)
    train(model, optimizer, 20)
    return model, method, optimizer


def test_registered():
    assert METHODS["filter_pruning"] is FilterPruning
    assert FilterPruning.name == "filter_pruning"


def test_event_steps_evenly_spaced():
    method = FilterPruning(conv_net(), total_steps=100, start_fraction=0.1, end_fraction=0.6)
    assert method.event_steps == [10, 23, 35, 48, 60]  # 22.5 and 47.5 round up
    single = FilterPruning(conv_net(), total_steps=100, rounds=1, end_fraction=0.5)
    assert single.event_steps == [50]


@pytest.mark.parametrize("criterion", CRITERIA)
@pytest.mark.parametrize("target", [0.5, 0.7])
def test_schedule_prunes_floor_target_filters_per_conv(criterion, target):
    model, method, _ = run_schedule(criterion, target)
    assert method.events_done == method.rounds
    assert [int(c.pruned.sum()) for c in method.convs] == [
        math.floor(target * 8),
        math.floor(target * 6),
    ]
    assert (model[0].weight[method.convs[0].pruned] == 0).all()
    assert (model[0].bias[method.convs[0].pruned] == 0).all()
    assert (model[3].weight[method.convs[1].pruned] == 0).all()


def test_each_event_reaches_its_fraction():
    model = conv_net()
    method = FilterPruning(model, target=0.75, total_steps=40, rounds=4)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    method.attach(optimizer)
    counts = []
    for event_step in method.event_steps:
        train(model, optimizer, event_step - method.step_count)
        counts.append([int(c.pruned.sum()) for c in method.convs])
    assert counts == [
        [math.floor(0.75 * r / 4 * 8), math.floor(0.75 * r / 4 * 6)] for r in range(1, 5)
    ]


def test_never_prunes_every_filter():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 1, 3), nn.Conv2d(1, 2, 3), nn.Flatten())
    method = FilterPruning(model, target=0.9, total_steps=4, rounds=1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    method.attach(optimizer)
    for _ in range(4):
        optimizer.zero_grad()
        model(torch.randn(2, 1, 6, 6)).sum().backward()
        optimizer.step()
    assert [int(c.pruned.sum()) for c in method.convs] == [0, 1]


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda params: torch.optim.SGD(params, lr=0.05, momentum=0.9, weight_decay=5e-3),
        lambda params: torch.optim.Adam(params, lr=1e-2, weight_decay=1e-3),
        lambda params: torch.optim.AdamW(params, lr=1e-2, weight_decay=1e-2),
    ],
    ids=["sgd-momentum-wd", "adam", "adamw"],
)
def test_pruned_filters_stay_exactly_zero(make_optimizer):
    model = conv_net()
    method = FilterPruning(model, target=0.5, total_steps=10, rounds=2)
    optimizer = make_optimizer(model.parameters())
    method.attach(optimizer)
    seen: list[dict[str, list[int]]] = []

    def check():
        seen.append(pruned_sets(method))
        for conv in method.convs:
            for entry in conv.entries():
                assert (entry.param[conv.pruned] == 0).all()

    train(model, optimizer, 40, check=check)
    assert seen[-1] == seen[5]  # nothing changes after the last event, due at step 6
    for before, after in zip(seen, seen[1:], strict=False):
        for layer in before:
            assert set(before[layer]) <= set(after[layer])  # never comes back
    for conv in method.convs:
        state = optimizer.state[conv.weight.param]
        for value in state.values():
            if torch.is_tensor(value) and value.shape == conv.weight.param.shape:
                assert (value[conv.pruned] == 0).all()


def test_l1_prunes_smallest_norm_filters():
    model = conv_net()
    scales = torch.tensor([5.0, 1.0, 7.0, 2.0, 8.0, 0.5, 6.0, 3.0])
    with torch.no_grad():
        model[0].weight.copy_(torch.ones_like(model[0].weight) * scales.view(-1, 1, 1, 1))
        model[0].weight[1, 0, 0, 0] = -1.0  # L1 uses |w|: filter 1 stays at 9 * 1.0
    method = FilterPruning(model, target=0.5, total_steps=2, rounds=1, end_fraction=0.5)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    method.attach(optimizer)
    train(model, optimizer, 1)
    assert pruned_sets(method)["0"] == [1, 3, 5, 7]


def test_l1_ties_go_to_lowest_index():
    model = conv_net()
    with torch.no_grad():
        model[0].weight.fill_(1.0)
    method = FilterPruning(model, target=0.5, total_steps=1, rounds=1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    method.attach(optimizer)
    train(model, optimizer, 1)
    assert pruned_sets(method)["0"] == [0, 1, 2, 3]


def test_mean_activation_ranks_by_output_not_weights():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 2, bias=False), nn.Flatten())
    with torch.no_grad():
        # on a constant input, filter 0 (large but zero-sum) outputs 0, filter 3 outputs least
        model[0].weight.copy_(
            torch.tensor([[9.0, -9.0, 9.0, -9.0], [1.0] * 4, [2.0] * 4, [0.1] * 4]).view(4, 1, 2, 2)
        )
    method = FilterPruning(
        model, target=0.5, criterion="mean_activation", total_steps=2, rounds=1, end_fraction=1.0
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    method.attach(optimizer)
    for _ in range(2):
        optimizer.zero_grad()
        model(torch.ones(3, 1, 3, 3)).sum().backward()
        optimizer.step()
    assert pruned_sets(method)["0"] == [0, 3]


def test_random_is_deterministic_for_a_seed():
    first = pruned_sets(run_schedule("random", seed=3)[1])
    again = pruned_sets(run_schedule("random", seed=3)[1])
    assert first == again
    others = [pruned_sets(run_schedule("random", seed=s)[1]) for s in (4, 5, 6)]
    assert any(other != first for other in others)


def test_masks_and_delta():
    model = conv_net()
    method = FilterPruning(model, target=0.5, total_steps=10, rounds=1, end_fraction=0.5)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    method.attach(optimizer)
    train(model, optimizer, 4)
    assert method.mask_delta("0.weight") is None
    assert method.structure_mask("0.weight").all()
    train(model, optimizer, 1)  # the event is due at step 5
    alive = method.structure_mask("0.weight")
    assert alive.shape == (8,) and int((~alive).sum()) == 4
    assert torch.equal(method.structure_mask("0.bias"), alive)
    assert method.structure_mask("1.weight") is None and method.structure_mask("7.weight") is None
    stored = method.stored_mask("0.weight")
    assert stored.shape == model[0].weight.shape
    assert torch.equal(stored, alive.view(-1, 1, 1, 1).expand_as(stored))
    assert torch.equal(method.stored_mask("0.bias"), alive)
    assert method.stored_mask("1.weight").all() and method.stored_mask("7.weight").all()
    entered, left = method.mask_delta("0.weight")
    assert entered.numel() == 0
    assert torch.equal(left, (~stored).flatten().nonzero().squeeze(1))
    entered, left = method.mask_delta("0.bias")
    assert torch.equal(left, (~alive).nonzero().squeeze(1))
    assert method.mask_delta("7.weight") is None
    assert method.stored_count() == method.total_count() - 4 * 9 - 4 - 3 * 72
    train(model, optimizer, 1)
    assert method.mask_delta("0.weight") is None


def test_state_dict_round_trip():
    model, method, _ = run_schedule("random", seed=2, end_fraction=0.9)
    state = method.state_dict()
    other = FilterPruning(
        conv_net(seed=1), criterion="random", total_steps=20, seed=2, end_fraction=0.9
    )
    other.load_state_dict(state)
    assert other.step_count == method.step_count == 20
    assert other.events_done == method.events_done
    assert pruned_sets(other) == pruned_sets(method)
    assert torch.equal(other.generator.get_state(), method.generator.get_state())
    half_model = conv_net()
    half = FilterPruning(half_model, criterion="random", total_steps=20, seed=2, end_fraction=0.9)
    half_optimizer = torch.optim.SGD(half_model.parameters(), lr=0.05)
    half.attach(half_optimizer)
    train(half_model, half_optimizer, 8)
    resumed = FilterPruning(
        conv_net(), criterion="random", total_steps=20, seed=2, end_fraction=0.9
    )
    resumed.load_state_dict(half.state_dict())
    assert resumed.events_done == half.events_done < resumed.rounds
    wrong = FilterPruning(nn.Sequential(nn.Conv2d(1, 3, 1)), total_steps=5)
    with pytest.raises(ConfigError):
        wrong.load_state_dict(state)


def test_hparams_are_complete():
    method = FilterPruning(conv_net(), target=0.3, criterion="random", total_steps=50, seed=7)
    hp = method.hparams()
    assert hp["target"] == 0.3 and hp["criterion"] == "random" and hp["seed"] == 7
    assert hp["rounds"] == 5 and hp["start_fraction"] == 0.1 and hp["end_fraction"] == 0.6
    assert hp["event_steps"] == method.event_steps and hp["layers"] == ["0", "3"]


@pytest.mark.parametrize(
    "options",
    [
        {"target": 1.0},
        {"target": -0.1},
        {"criterion": "l2"},
        {"rounds": 0},
        {"rounds": 2.5},
        {"start_fraction": 0.6, "end_fraction": 0.6},
        {"start_fraction": 0.7, "end_fraction": 0.2},
        {"end_fraction": 1.5},
        {"total_steps": 0},
    ],
)
def test_bad_options_raise(options):
    options = {"total_steps": 10, **options}
    with pytest.raises(ConfigError):
        FilterPruning(conv_net(), **options)


def test_model_without_conv_raises():
    with pytest.raises(ConfigError, match="Conv2d"):
        FilterPruning(nn.Sequential(nn.Linear(4, 2)), total_steps=10)
