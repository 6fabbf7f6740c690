"""The training loop behind ``accelsim record``: data, net, regen init, method, optimizer."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import torch
from torch import nn

from accelsim.errors import ConfigError
from accelsim.training.data import DEFAULT_DATASET, Dataset, batches, load_dataset
from accelsim.training.init import RegenInit, init_from_regen
from accelsim.training.methods import METHODS, PruningMethod
from accelsim.training.nets import build_net
from accelsim.training.optim import (
    DEFAULT_LR,
    DEFAULT_WEIGHT_DECAY,
    LrSchedule,
    build_optimizer,
    check_optimizer,
    parse_lr_schedule,
)


class TrainingError(ConfigError):
    """Training diverged or could not run with the given options."""


# Global defaults of the options a config may leave as None.
DEFAULTS = {"epochs": 100, "momentum": 0.0, "lr_schedule": "constant"}
# Per (net, dataset): the training recipe that replaces those defaults (and the optimizer's
# default lr) where the user gave no value; the SGD hyper-parameters only with SGD.
# LeNet-300-100 on mnist-5k: with these DropBack 25x matches dense within 0.5 points at
# 30 epochs on every one of 3 seeds (bench/mnist5k_dropback_accuracy.py; docs/training.md).
RECIPES = {
    ("lenet-300-100", "mnist-5k"): {"optimizer": "sgd", "epochs": 30, "lr": 0.1,
                                    "momentum": 0.9, "lr_schedule": "step:10:0.5"},
}


@dataclass
class TrainConfig:
    """Everything that determines a run. Options left None take the (net, dataset)
    recipe's value where there is one (``RECIPES``), else the global default."""

    net: str = "lenet-300-100"
    method: str = "dense"
    compression: float | None = None
    budget: int | None = None
    dataset: str = DEFAULT_DATASET
    data_dir: str | None = None
    epochs: int | None = None  # None: the recipe's, else 100
    batch_size: int = 64
    optimizer: str = "sgd"
    lr: float | None = None  # None: 0.1 for SGD, 1e-3 for Adam/AdamW
    momentum: float | None = None  # SGD only; None: the recipe's, else 0
    nesterov: bool = False  # SGD with momentum only
    weight_decay: float | None = None  # None: 0, AdamW 1e-2 (torch's default)
    lr_schedule: str | None = None  # constant | step:EPOCHS:FACTOR | cosine; None: recipe's

    seed: int = 0
    init_scheme: str = "lecun"
    method_options: dict[str, Any] = field(default_factory=dict)

    def resolved(self) -> TrainConfig:
        """A copy with every None option filled: from the recipe of (net, dataset) where it
        has the option (its SGD settings only when training with its optimizer), else
        from the global defaults (``lr`` and ``weight_decay`` stay None: the optimizer's
        defaults)."""
        recipe = dict(RECIPES.get((self.net, str(self.dataset).strip().lower()), {}))
        if recipe.pop("optimizer", self.optimizer) != self.optimizer:
            recipe = {"epochs": recipe["epochs"]} if "epochs" in recipe else {}
        values = {key: recipe.get(key, DEFAULTS.get(key)) for key in ("epochs", "lr",
                                                                       "momentum", "lr_schedule")
                  if getattr(self, key) is None}
        return replace(self, **values)

    @property
    def learning_rate(self) -> float:
        """The initial lr: ``lr``, else the optimizer's default."""
        return self.lr if self.lr is not None else DEFAULT_LR.get(self.optimizer, 0.1)

    @property
    def decay(self) -> float:
        """The optimizer's weight decay: ``weight_decay``, else the optimizer's default."""
        if self.weight_decay is not None:
            return self.weight_decay
        return DEFAULT_WEIGHT_DECAY.get(self.optimizer, 0.0)

    @property
    def schedule(self) -> LrSchedule:
        return parse_lr_schedule(self.lr_schedule)

    def check(self) -> None:
        """Reject impossible options (defaults filled in) before any work starts."""
        c = self.resolved()
        if c.method not in METHODS:
            raise ConfigError(
                f"unknown method {c.method!r}; choose one of {', '.join(METHODS)}"
            )
        if c.epochs < 0:
            raise ConfigError(f"--epochs must be >= 0, got {c.epochs}")
        if c.batch_size < 1:
            raise ConfigError(f"--batch-size must be >= 1, got {c.batch_size}")
        if c.lr is not None and (not c.lr > 0 or math.isinf(c.lr)):
            raise ConfigError(f"--lr must be a positive number, got {c.lr}")
        check_optimizer(c.optimizer, c.momentum, c.nesterov, c.weight_decay)
        c.schedule  # noqa: B018 -- parsing is the check
        if c.seed < 0:
            raise ConfigError(f"--seed must be >= 0, got {c.seed}")
        if c.compression is not None and c.budget is not None:
            raise ConfigError("give --compression or --budget, not both")
        if c.compression is not None and not c.compression >= 1:
            raise ConfigError(f"--compression must be >= 1, got {c.compression}")
        if c.budget is not None and c.budget < 1:
            raise ConfigError(f"--budget must be >= 1, got {c.budget}")
        if c.method == "dense" and (c.compression or c.budget):
            raise ConfigError("method 'dense' takes no --compression or --budget")


@dataclass
class TrainResult:
    """What a run achieved; ``summary()`` is the ``--json`` output of ``accelsim record``."""

    net: str
    method: str
    dataset: str
    params: int
    tracked: int
    test_accuracy: float
    steps: int
    final_loss: float
    epoch_accuracy: list[float]
    method_params: dict[str, Any]

    @property
    def compression(self) -> float:
        return self.params / self.tracked if self.tracked else math.inf

    def summary(self) -> dict[str, Any]:
        out = asdict(self)
        out["compression"] = round(self.compression, 4)
        return out


# Per-method meaning of --compression / --budget, and defaults when neither is given.
DEFAULT_COMPRESSION = {"dropback": 25.0, "swd": 10.0, "filter_pruning": 2.0}


def build_method(
    config: TrainConfig, model: nn.Module, init: RegenInit, total_steps: int
) -> PruningMethod:
    """Construct the configured method; --compression X means N/X stored weights for
    DropBack, a 1-1/X pruning target for SWD and 1-1/X of the filters for filter pruning."""
    name = config.method
    options = dict(config.method_options)
    if name == "dense":
        return METHODS[name](model)
    if name == "dropback":
        compression = config.compression
        if config.budget is None and compression is None:
            compression = DEFAULT_COMPRESSION[name]
        return METHODS[name](model, budget=config.budget, compression=compression,
                             init=init, **options)
    params = sum(p.numel() for p in model.parameters())
    if config.budget is not None:
        if name == "filter_pruning":
            raise ConfigError("filter_pruning takes --compression (1/fraction of filters kept), "
                              "not --budget")
        if config.budget > params:
            raise ConfigError(f"--budget {config.budget} exceeds the {params} parameters "
                              f"of {config.net}")
        target = 1.0 - config.budget / params
    else:
        target = 1.0 - 1.0 / (config.compression or DEFAULT_COMPRESSION[name])
    return METHODS[name](model, target=target, total_steps=max(total_steps, 1), **options)


def evaluate(model: nn.Module, data: Dataset, batch_size: int = 512) -> float:
    """Top-1 accuracy on the test split, in percent."""
    was_training = model.training
    model.eval()
    correct = 0
    with torch.no_grad():
        for x, y in batches(data.test_x, data.test_y, batch_size, shuffle=False):
            correct += int((model(x).argmax(dim=1) == y).sum())
    model.train(was_training)
    return 100.0 * correct / max(len(data.test_y), 1)


StepCallback = Callable[[int, float, float], None]
EpochCallback = Callable[[int, float], None]


@dataclass
class Run:
    """A prepared run: model, optimizer and method wired together, not yet trained."""

    config: TrainConfig
    data: Dataset
    model: nn.Module
    init: RegenInit
    optimizer: torch.optim.Optimizer
    method: PruningMethod
    steps_per_epoch: int

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.config.epochs


def prepare(config: TrainConfig) -> Run:
    """Load data, build and regen-initialise the net, attach the method to the optimizer;
    the run holds the config with every default filled (``TrainConfig.resolved``)."""
    config = config.resolved()
    config.check()
    torch.manual_seed(config.seed)
    data = load_dataset(config.dataset, config.data_dir, seed=config.seed)
    model = build_net(config.net, in_shape=data.in_shape, num_classes=data.num_classes)
    init = init_from_regen(model, seed=config.seed, scheme=config.init_scheme)
    steps_per_epoch = math.ceil(len(data.train_y) / config.batch_size)
    optimizer = build_optimizer(config.optimizer, model.parameters(), config.learning_rate,
                                config.momentum, config.nesterov, config.decay)
    method = build_method(config, model, init, steps_per_epoch * config.epochs)
    method.attach(optimizer)
    return Run(config, data, model, init, optimizer, method, steps_per_epoch)


def train(run: Run, on_step: StepCallback | None = None, progress: bool = False,
          on_epoch: EpochCallback | None = None) -> TrainResult:
    """Train for the configured epochs; ``on_step(step, loss, lr)`` runs after each step,
    ``on_epoch(epoch, test_accuracy)`` after each epoch's evaluation."""
    from tqdm import tqdm

    config, model, optimizer = run.config, run.model, run.optimizer
    generator = torch.Generator().manual_seed(config.seed)
    bar = tqdm(total=run.total_steps, desc=f"{config.method} {config.net}", unit="step",
               disable=None if progress else True, leave=False)
    step, loss_value, accuracies = 0, math.nan, []
    schedule = config.schedule
    model.train()
    for epoch in range(config.epochs):
        for group in optimizer.param_groups:
            group["lr"] = schedule.lr_at(epoch, config.learning_rate, config.epochs)
        for x, y in batches(run.data.train_x, run.data.train_y, config.batch_size,
                            shuffle=True, generator=generator):
            optimizer.zero_grad(set_to_none=True)
            loss = nn.functional.cross_entropy(model(x), y)
            loss_value = loss.item()
            if not math.isfinite(loss_value):
                raise TrainingError(f"step {step}: loss is {loss_value} (training diverged; "
                                    f"try a smaller --lr than {config.learning_rate:g})")
            loss.backward()
            optimizer.step()
            step += 1
            if on_step is not None:
                on_step(step, loss_value, optimizer.param_groups[0]["lr"])
            bar.update(1)
        accuracies.append(evaluate(model, run.data))
        if on_epoch is not None:
            on_epoch(epoch + 1, accuracies[-1])
        bar.set_postfix(epoch=epoch + 1, acc=f"{accuracies[-1]:.1f}%")
    bar.close()
    run.method.finalize()
    accuracy = evaluate(model, run.data)
    return TrainResult(
        net=config.net, method=config.method, dataset=run.data.name,
        params=run.method.total_count(), tracked=run.method.stored_count(),
        test_accuracy=round(accuracy, 4), steps=step, final_loss=loss_value,
        epoch_accuracy=[round(a, 4) for a in accuracies], method_params=run.method.hparams(),
    )
