"""The parameter table: every trainable tensor of a model with its stable tensor_id and role.

tensor_ids follow ``model.named_parameters()`` order, which PyTorch keeps stable for a
given architecture; they are the regen seed input, so training, traces and the
simulator agree on which stream each tensor's initial values come from.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

_NORM_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.GroupNorm, nn.LayerNorm)


@dataclass(frozen=True)
class ParamEntry:
    """One parameter tensor: id, qualified name, owning module name and role."""

    tensor_id: int
    name: str
    layer: str
    role: str  # "weight" | "bias" | "norm_weight" | "norm_bias" | "other"
    param: torch.nn.Parameter

    @property
    def numel(self) -> int:
        return self.param.numel()

    @property
    def fan_in(self) -> int:
        """Inputs feeding one output unit (conv: in/groups * kh * kw; linear: in)."""
        return self.param[0].numel() if self.param.dim() > 1 else 1


def _role(module: nn.Module, attr: str) -> str:
    if isinstance(module, _NORM_TYPES):
        return "norm_weight" if attr == "weight" else "norm_bias"
    if attr == "bias":
        return "bias"
    if attr in ("weight", "weight_orig"):  # weight_orig: torch.nn.utils.prune's original
        return "weight"
    if attr == "bias_orig":
        return "bias"
    return "other"


def parameter_table(model: nn.Module) -> list[ParamEntry]:
    """Every trainable parameter in named_parameters() order, numbered from 0."""
    owners = {}
    for module_name, module in model.named_modules():
        for attr, param in module.named_parameters(recurse=False):
            owners.setdefault(id(param), (module_name, module, attr))
    entries = []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        module_name, module, attr = owners[id(param)]
        role = _role(module, attr)
        if ".parametrizations." in f".{module_name}":
            # torch.nn.utils.parametrize: "conv.parametrizations.weight" owns original0/1,
            # the parts the conv's weight is computed from; the conv is the layer
            module_name, _, target = f".{module_name}".rpartition(".parametrizations.")
            module_name = module_name[1:]
            role = "weight" if target == "weight" else role
        entries.append(ParamEntry(len(entries), name, module_name, role, param))
    return entries
