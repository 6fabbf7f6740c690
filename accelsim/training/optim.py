"""Optimizers and learning-rate schedules of ``accelsim record``: parsed, checked, built.

``--optimizer sgd|adam|adamw`` with ``--momentum``, ``--nesterov`` (SGD only) and
``--weight-decay``; ``--lr-schedule constant|step:EPOCHS:FACTOR|cosine``. The schedule
sets each epoch's lr before the epoch starts: ``step:E:F`` multiplies it by ``F`` after
every ``E`` epochs (DropBack's MNIST reference: ``step:25:0.5``); ``cosine`` anneals it
per epoch from ``--lr`` towards 0, ``lr * (1 + cos(pi * epoch / epochs)) / 2`` (torch's
``CosineAnnealingLR`` with ``T_max = epochs``, ``eta_min = 0``, stepped per epoch).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from accelsim.errors import ConfigError

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULE_FORMS = "constant, step:EPOCHS:FACTOR (e.g. step:25:0.5) or cosine"
DEFAULT_LR = {"sgd": 0.1, "adam": 1e-3, "adamw": 1e-3}  # adam/adamw: torch's defaults
DEFAULT_WEIGHT_DECAY = {"sgd": 0.0, "adam": 0.0, "adamw": 1e-2}  # adamw: torch's default


@dataclass(frozen=True)
class LrSchedule:
    """A per-epoch learning-rate schedule: ``constant``, ``step`` or ``cosine``."""

    kind: str = "constant"
    every_epochs: int = 0  # step: multiply by ``factor`` after every this many epochs
    factor: float = 1.0

    @property
    def spec(self) -> str:
        """The ``--lr-schedule`` text that gives this schedule."""
        if self.kind == "step":
            return f"step:{self.every_epochs}:{self.factor:g}"
        return self.kind

    def lr_at(self, epoch: int, base_lr: float, epochs: int) -> float:
        """The lr of (0-based) ``epoch`` of ``epochs``."""
        if self.kind == "step":
            return base_lr * self.factor ** (epoch // self.every_epochs)
        if self.kind == "cosine":
            return base_lr * (1.0 + math.cos(math.pi * epoch / max(epochs, 1))) / 2.0
        return base_lr

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "spec": self.spec}
        if self.kind == "step":
            out.update(every_epochs=self.every_epochs, factor=self.factor)
        return out


def parse_lr_schedule(text: str) -> LrSchedule:
    """``constant``, ``step:EPOCHS:FACTOR`` (EPOCHS >= 1, 0 < FACTOR) or ``cosine``."""
    spec = str(text).strip().lower()
    if spec in ("constant", "cosine"):
        return LrSchedule(spec)
    parts = spec.split(":")
    if parts[0] != "step":
        raise ConfigError(f"--lr-schedule {text!r} is not one of {SCHEDULE_FORMS}")
    if len(parts) != 3:
        raise ConfigError(f"--lr-schedule {text!r}: write step:EPOCHS:FACTOR, "
                          "e.g. step:25:0.5 (halve the lr every 25 epochs)")
    try:
        every = int(parts[1])
    except ValueError:
        every = 0
    if every < 1:
        raise ConfigError(f"--lr-schedule {text!r}: EPOCHS must be a whole number >= 1, "
                          f"got {parts[1]!r}")
    try:
        factor = float(parts[2])
    except ValueError:
        factor = math.nan
    if not 0.0 < factor < math.inf:
        raise ConfigError(f"--lr-schedule {text!r}: FACTOR must be a positive number, "
                          f"got {parts[2]!r}")
    return LrSchedule("step", every, factor)


def check_optimizer(name: str, momentum: float, nesterov: bool,
                    weight_decay: float | None) -> None:
    """Reject an unknown optimizer and options it does not take, before any work."""
    if name not in OPTIMIZERS:
        raise ConfigError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    if not 0.0 <= momentum < 1.0:
        raise ConfigError(f"--momentum must be in [0, 1), got {momentum}")
    if name != "sgd" and momentum:
        raise ConfigError(f"--momentum is an SGD option; {name} keeps its own moment "
                          "estimates (betas 0.9, 0.999)")
    if nesterov and (name != "sgd" or not momentum):
        raise ConfigError("--nesterov needs --optimizer sgd and a --momentum above 0")
    if weight_decay is not None and not 0.0 <= weight_decay < math.inf:
        raise ConfigError(f"--weight-decay must be >= 0, got {weight_decay}")


def build_optimizer(name: str, params, lr: float, momentum: float, nesterov: bool,
                    weight_decay: float) -> torch.optim.Optimizer:
    """The torch optimizer ``name`` over ``params`` (already checked)."""
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=nesterov,
                               weight_decay=weight_decay)
    kind = torch.optim.Adam if name == "adam" else torch.optim.AdamW
    return kind(params, lr=lr, weight_decay=weight_decay)


# Per optimizer, the hyper-parameters a trace header records (from its first param group).
_RECORDED = {
    "sgd": ("lr", "momentum", "dampening", "nesterov", "weight_decay"),
    "adam": ("lr", "betas", "eps", "weight_decay", "amsgrad"),
    "adamw": ("lr", "betas", "eps", "weight_decay", "amsgrad"),
}


def optimizer_params(optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """The hyper-parameters of ``optimizer``'s first group, JSON-ready; ``lr`` is the
    initial lr (``initial_lr`` where a torch scheduler set one)."""
    name = type(optimizer).__name__.lower()
    group = optimizer.param_groups[0]
    keys = _RECORDED.get(name) or tuple(k for k, v in group.items()
                                        if isinstance(v, bool | int | float | tuple))
    out: dict[str, Any] = {}
    for key in keys:
        value = group.get("initial_lr", group["lr"]) if key == "lr" else group.get(key)
        if isinstance(value, torch.Tensor):
            value = value.item()
        if isinstance(value, tuple | list):
            value = [float(v) for v in value]
        if value is not None:
            out[key] = value
    return out
