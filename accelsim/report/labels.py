"""Run labels that say what differs: reports and sweeps name each run by its method and
budget plus every training setting (net, dataset, optimizer and its hyper-parameters, lr
schedule, batch size, epochs, seed) in which it differs from the other runs.

Settings come from a trace header (or the same keys in a result's ``trace`` section):
``describe_training`` turns one into ordered facets, ``differing_text`` keeps the facets
that vary across the runs. Standard library only: sweeps use it without matplotlib.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

OPTIMIZER_NAMES = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW"}
# Optimizer hyper-parameters as labels write them, in label order.
_HYPER = (("lr", "lr"), ("momentum", "momentum"), ("nesterov", "Nesterov"),
          ("weight_decay", "wd"), ("betas", "betas"), ("eps", "eps"),
          ("amsgrad", "AMSGrad"))
# Shown only where runs that have them differ (an SGD run has no betas to compare).
_SECONDARY = ("betas", "eps", "amsgrad")
_UNKNOWN = "?"


def describe_training(settings: Mapping[str, Any]) -> dict[str, str]:
    """Ordered facets of one run's training: ``{"dataset": "mnist-5k", "optimizer":
    "SGD", "lr": "lr 0.1", ..., "lr_schedule": "lr step:25:0.5", "batch": "batch 64"}``.

    ``settings`` holds header keys: dataset, optimizer, optimizer_params, batch_size and
    ``extra`` (epochs, seed). A setting the run did not record reads ``?``.
    """
    facets: dict[str, str] = {"dataset": str(settings.get("dataset") or _UNKNOWN)}
    name = settings.get("optimizer")
    params = settings.get("optimizer_params")
    facets["optimizer"] = OPTIMIZER_NAMES.get(str(name), str(name)) if name else _UNKNOWN
    recorded = isinstance(params, Mapping) and bool(params)
    for key, word in _HYPER:
        value = params.get(key) if recorded else None
        facets[key] = _hyper_text(word, value) if recorded else f"{word} {_UNKNOWN}"
    schedule = params.get("lr_schedule") if recorded else None
    spec = schedule.get("spec") if isinstance(schedule, Mapping) else None
    facets["lr_schedule"] = f"lr {spec or _UNKNOWN}"
    facets["batch"] = f"batch {settings.get('batch_size') or _UNKNOWN}"
    extra = settings.get("extra") if isinstance(settings.get("extra"), Mapping) else {}
    facets["epochs"] = f"{extra.get('epochs', _UNKNOWN)} epochs"
    facets["seed"] = f"seed {extra.get('seed', _UNKNOWN)}"
    return facets


def _hyper_text(word: str, value: Any) -> str:
    """'lr 0.1', 'momentum 0.9', 'Nesterov' (when on); '' where the optimizer has none or
    it is off (no momentum, no weight decay)."""
    if value is None or value is False or (word in ("momentum", "wd") and value == 0):
        return ""
    if value is True:
        return word
    if isinstance(value, list | tuple):
        return f"{word} " + "/".join(f"{v:g}" for v in value)
    if isinstance(value, float) and math.isfinite(value) or isinstance(value, int):
        return f"{word} {value:g}"
    return f"{word} {value}"


def differing_text(all_facets: Sequence[Mapping[str, str]]) -> list[str]:
    """For each run, its facets that differ across the runs, joined: 'mnist-5k, Adam lr
    0.001 wd 0.0001, lr cosine'. The optimizer's name leads its hyper-parameters whenever
    any of them differs. Empty strings where nothing differs."""
    def distinct(key: str) -> int:
        values = {facets.get(key) for facets in all_facets}
        return len(values - {""}) if key in _SECONDARY else len(values)

    varying = [key for key in (all_facets[0] if all_facets else {}) if distinct(key) > 1]
    hyper = [key for key, _ in _HYPER]
    texts = []
    for facets in all_facets:
        parts = []
        optimizer = [facets[key] for key in ("optimizer", *hyper)
                     if (key == "optimizer" or key in varying) and facets.get(key)]
        if any(key == "optimizer" or key in hyper for key in varying):
            parts.append(" ".join(optimizer))
        parts += [facets[key] for key in varying
                  if key != "optimizer" and key not in hyper and facets.get(key)]
        texts.append(", ".join(parts))
    return texts


def optimizer_text(facets: Mapping[str, str]) -> str:
    """The optimizer and its main hyper-parameters: 'SGD lr 0.1 momentum 0.9 wd 0.0005'."""
    main = [key for key, _ in _HYPER if key not in _SECONDARY]
    return " ".join(facets[key] for key in ("optimizer", *main) if facets.get(key))
