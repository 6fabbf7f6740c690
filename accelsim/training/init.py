"""Initialise a model from accelsim.regen, so every initial value can be regenerated."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from accelsim import regen
from accelsim.training.params import ParamEntry, parameter_table


@dataclass
class RegenInit:
    """The seed, scheme and per-tensor InitSpec a model was initialised with."""

    seed: int
    scheme: str
    specs: dict[str, regen.InitSpec] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "name": regen.GENERATOR_NAME,
            "version": regen.GENERATOR_VERSION,
            "seed": self.seed,
            "scheme": self.scheme,
        }


def init_spec(entry: ParamEntry, scheme: str) -> regen.InitSpec:
    """Weights: scaled normal by fan-in; biases and norm shifts 0; norm scales 1."""
    if entry.role in ("weight", "other") and entry.param.dim() > 1:
        return regen.InitSpec("normal", std=regen.init_std(entry.fan_in, scheme))
    if entry.role == "norm_weight":
        return regen.InitSpec("constant", value=1.0)
    return regen.InitSpec("constant", value=0.0)


def initial_tensor(spec: regen.InitSpec, seed: int, entry: ParamEntry) -> torch.Tensor:
    """The tensor's initial values, bit-identical to what the regen unit produces."""
    values = regen.initial_values(spec, seed, entry.tensor_id, entry.numel)
    param = entry.param
    return torch.from_numpy(values).reshape(param.shape).to(device=param.device, dtype=param.dtype)


@torch.no_grad()
def init_from_regen(model: nn.Module, seed: int = 0, scheme: str = "lecun") -> RegenInit:
    """Overwrite every trainable parameter with its regenerable initial value."""
    regen.init_std(1, scheme)  # rejects an unknown scheme before touching the model
    state = RegenInit(seed=seed, scheme=scheme)
    for entry in parameter_table(model):
        spec = init_spec(entry, scheme)
        entry.param.copy_(initial_tensor(spec, seed, entry))
        state.specs[entry.name] = spec
    return state
