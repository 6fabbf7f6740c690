"""What a recorded training method means for everything that reads its trace — the one
place that knows it (the replay's fill rule, reports' compression, sweeps' labels).

``unstored``: what stands in for a weight outside the stored set — "initial" (its
initial value, which a regeneration unit can produce again: DropBack), "zero" (pruned:
SWD, filter pruning, masks or zeros found in a user's model) or "none" (every weight is stored:
dense). ``structured``: the method prunes whole filters (structure masks).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class MethodMeaning:
    name: str
    unstored: str
    structured: bool = False

    @property
    def regenerates(self) -> bool:
        return self.unstored == "initial"


METHODS = {
    "dense": MethodMeaning("dense", "none"),
    "dropback": MethodMeaning("dropback", "initial"),
    "swd": MethodMeaning("swd", "zero"),
    "filter_pruning": MethodMeaning("filter_pruning", "zero", structured=True),
    # masks found in the user's model (torch.nn.utils.prune), accelsim.training.methods.found
    "torch_prune": MethodMeaning("torch_prune", "zero"),
    # torch.ao.pruning / parametrize masks, or exact zeros (zeros_are_pruned), same module
    "found_masks": MethodMeaning("found_masks", "zero"),
}


def method_meaning(name: str) -> MethodMeaning:
    """The meaning of ``name``; a method accelsim does not know prunes to zero (masks)."""
    return METHODS.get(name, MethodMeaning(name, "zero"))


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def compression_of(method: str, params: dict[str, Any] | None,
                   params_total: float | None) -> float | None:
    """Parameters over stored weights: 1 for dense, None where the trace does not say."""
    if method_meaning(method).unstored == "none":
        return 1.0
    params = params or {}
    if _number(params.get("compression")):
        return float(params["compression"])
    for key in ("stored_weights", "kept_weights"):
        if _number(params.get(key)) and params[key] > 0 and _number(params_total):
            return float(params_total) / float(params[key])
    if _number(params.get("target")) and 0 <= params["target"] < 1:
        return 1.0 / (1.0 - float(params["target"]))
    return None
