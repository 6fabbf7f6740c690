"""Optimizers and lr schedules of accelsim record: parsing, checks, what a run applies."""

import math

import pytest
import torch

from accelsim.errors import ConfigError
from accelsim.training.loop import TrainConfig, prepare, train
from accelsim.training.optim import LrSchedule, optimizer_params, parse_lr_schedule


def test_schedules_parse_and_give_each_epochs_lr():
    assert parse_lr_schedule("constant").lr_at(7, 0.1, 10) == 0.1
    step = parse_lr_schedule(" Step:25:0.5 ")
    assert step == LrSchedule("step", 25, 0.5) and step.spec == "step:25:0.5"
    assert [step.lr_at(e, 0.4, 100) for e in (0, 24, 25, 50, 99)] == [0.4, 0.4, 0.2, 0.1,
                                                                      0.05]
    cosine = parse_lr_schedule("cosine")
    assert cosine.lr_at(0, 0.1, 10) == 0.1
    assert cosine.lr_at(5, 0.1, 10) == pytest.approx(0.05)
    assert 0 < cosine.lr_at(9, 0.1, 10) < 0.003


@pytest.mark.parametrize("text", ["", "step", "step:0:0.5", "step:2.5:0.5", "step:5:nan",
                                  "step:5:inf", "step:5:-0.1", "step:1:2:3", "exp:0.9"])
def test_malformed_schedules_are_config_errors(text):
    with pytest.raises(ConfigError, match="--lr-schedule"):
        parse_lr_schedule(text)


@pytest.mark.parametrize(("options", "message"), [
    ({"optimizer": "lamb"}, "unknown optimizer"),
    ({"optimizer": "adamw", "momentum": 0.5}, "SGD option"),
    ({"momentum": -0.1}, r"\[0, 1\)"),
    ({"optimizer": "sgd", "nesterov": True}, "--nesterov"),
    ({"optimizer": "adam", "nesterov": True}, "--nesterov"),
    ({"weight_decay": -1e-4}, "--weight-decay must be >= 0"),
    ({"weight_decay": math.inf}, "--weight-decay must be >= 0"),
])
def test_impossible_optimizer_options_fail_before_training(options, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(dataset="synthetic", **options).check()


@pytest.mark.parametrize(("options", "kind", "expected"), [
    ({}, torch.optim.SGD, {"lr": 0.1, "momentum": 0.0, "weight_decay": 0.0}),
    ({"momentum": 0.9, "nesterov": True, "weight_decay": 5e-4}, torch.optim.SGD,
     {"momentum": 0.9, "nesterov": True, "weight_decay": 5e-4}),
    ({"optimizer": "adam"}, torch.optim.Adam, {"lr": 1e-3, "weight_decay": 0.0}),
    ({"optimizer": "adamw", "lr": 3e-3}, torch.optim.AdamW, {"lr": 3e-3,
                                                             "weight_decay": 1e-2}),
])
def test_prepare_builds_the_configured_optimizer(options, kind, expected):
    run = prepare(TrainConfig(dataset="synthetic", epochs=1, **options))
    assert type(run.optimizer) is kind
    recorded = optimizer_params(run.optimizer)
    assert {key: recorded[key] for key in expected} == expected


def test_training_applies_the_schedule_per_epoch():
    seen = []
    run = prepare(TrainConfig(dataset="synthetic", epochs=3, lr=0.08,
                              lr_schedule="step:1:0.5"))
    train(run, on_step=lambda step, loss, lr: seen.append(lr))
    per_epoch = run.steps_per_epoch
    assert seen[:per_epoch] == [0.08] * per_epoch
    assert seen[-1] == pytest.approx(0.02)


def test_adam_learns_and_keeps_two_state_tensors_per_weight():
    run = prepare(TrainConfig(dataset="synthetic", epochs=3, optimizer="adam",
                              method="dropback", compression=10))
    result = train(run)
    assert result.test_accuracy > 80
    state = run.optimizer.state[next(run.model.parameters())]
    assert sum(1 for v in state.values() if v.dim() > 0) == 2


def test_recipe_fills_only_what_was_left_unset():
    recipe = TrainConfig(net="lenet-300-100", dataset="mnist-5k").resolved()
    assert (recipe.epochs, recipe.lr, recipe.momentum, recipe.lr_schedule) == (
        30, 0.1, 0.9, "step:10:0.5")
    mine = TrainConfig(net="lenet-300-100", dataset="mnist-5k", momentum=0.0,
                       lr_schedule="cosine", epochs=5).resolved()
    assert (mine.epochs, mine.momentum, mine.lr_schedule) == (5, 0.0, "cosine")
    adam = TrainConfig(net="lenet-300-100", dataset="mnist-5k", optimizer="adam").resolved()
    assert (adam.epochs, adam.momentum, adam.lr_schedule, adam.learning_rate) == (
        30, 0.0, "constant", 1e-3)  # the recipe's SGD settings are not Adam's
    digits = TrainConfig().resolved()  # no recipe: the long-standing defaults
    assert (digits.epochs, digits.learning_rate, digits.momentum, digits.lr_schedule) == (
        100, 0.1, 0.0, "constant")
