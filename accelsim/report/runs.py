"""Reading RESULT.json files into runs: validated and labelled.

A run is one ``accelsim simulate`` result. Everything a report needs is checked here, so a
bad file fails with a message naming it before any output is written.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from accelsim.errors import AccelsimError, ConfigError
from accelsim.report.labels import describe_training, differing_text
from accelsim.sim.results import (
    ENERGY_PARTS,
    RESULT_FORMAT,
    RESULT_VERSION,
    TRAFFIC_CLASSES,
    counter,
)
from accelsim.trace.methods import compression_of

METHOD_NAMES = {"dense": "Dense", "dropback": "DropBack", "swd": "SWD",
                "filter_pruning": "Filter pruning"}
SECTIONS = ("trace", "hardware", "totals", "by_phase", "layers", "per_step")
# The trace-header keys a label may need beyond what a result's "trace" section holds.
SETTING_KEYS = ("dataset", "batch_size", "optimizer", "optimizer_params", "extra")
ROW_KEYS = ("cycles", *(f"energy_pj.{part}" for part in ENERGY_PARTS),
            *(f"dram_read_bytes.{operand}" for operand in TRAFFIC_CLASSES),
            *(f"dram_write_bytes.{operand}" for operand in TRAFFIC_CLASSES))
TOTAL_KEYS = (*ROW_KEYS, "training_steps", "weight_dram_read_bytes")


@dataclass(frozen=True)
class Run:
    """One simulated training run: its result and the label every table and figure uses."""

    label: str
    path: Path
    result: dict[str, Any]
    # The trace header's training settings (SETTING_KEYS; {} when the trace is unreadable).
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def trace(self) -> dict[str, Any]:
        return self.result["trace"]

    @property
    def totals(self) -> dict[str, float]:
        return self.result["totals"]

    @property
    def per_step(self) -> dict[str, list]:
        return self.result["per_step"]

    @property
    def net(self) -> str:
        return str(self.trace.get("net") or "?")

    @property
    def method(self) -> str:
        return str(self.trace.get("method") or "?")

    @property
    def method_name(self) -> str:
        return METHOD_NAMES.get(self.method, self.method)

    @property
    def hardware_name(self) -> str:
        return str(self.result["hardware"].get("name") or "?")

    @property
    def hardware_key(self) -> str:
        """Identifies the physical design: its fingerprint, else its name."""
        hardware = self.result["hardware"]
        return str(hardware.get("fingerprint") or hardware.get("name"))

    @property
    def optimizer(self) -> str | None:
        return self.settings.get("optimizer")

    @property
    def optimizer_params(self) -> dict[str, Any]:
        return self.settings.get("optimizer_params") or {}

    @property
    def lr_schedule(self) -> str | None:
        schedule = self.optimizer_params.get("lr_schedule")
        return schedule.get("spec") if isinstance(schedule, dict) else None

    @property
    def workload_key(self) -> tuple:
        """Net, dataset and batch size: runs with equal keys train the same workload."""
        return (self.net, self.trace.get("dataset"), self.trace.get("batch_size"))

    @property
    def compression(self) -> float | None:
        """Parameters over stored weights: 1 for dense, None where the trace does not say."""
        return compression_of(self.method, self.trace.get("method_params"),
                              self.trace.get("params_total"))

    @property
    def final_accuracy(self) -> float | None:
        """The trace's final test accuracy in %, else the last evaluated step's."""
        if _is_number(self.trace.get("final_accuracy")):
            return float(self.trace["final_accuracy"])
        evaluated = [a for a in self.per_step.get("accuracy") or [] if _is_number(a)]
        return float(evaluated[-1]) if evaluated else None

    def per_training_step(self, total_key: str) -> float:
        """A total divided by the training steps it covers (so shorter replays compare)."""
        steps = self.totals["training_steps"]
        return self.total(total_key) / steps if steps else math.nan

    def total(self, key: str) -> float:
        """A total; DRAM bytes (``dram_bytes`` = read + written) and energy as sums of parts."""
        return counter(self.totals, key)


def load_runs(paths: Sequence[str | Path]) -> list[Run]:
    """Read and check every result file, then give each run a unique label."""
    if not paths:
        raise ConfigError("report: no result files given")
    runs = []
    for path in paths:
        result = read_result(path)
        runs.append(Run("", Path(path), result, training_settings(result, Path(path))))
    return [replace(run, label=label) for run, label in zip(runs, _labels(runs), strict=True)]


def training_settings(result: dict[str, Any], path: Path) -> dict[str, Any]:
    """The run's training settings: from the result's trace section when it has them,
    else from the header of the trace it names (as given, or next to the result file);
    {} when neither is available, and labels then say ``?`` for what is unknown."""
    trace = result["trace"]
    if all(key in trace for key in SETTING_KEYS):
        return {key: trace[key] for key in SETTING_KEYS}
    from accelsim.trace import open_trace

    named = trace.get("path")
    if not isinstance(named, str) or not named:
        return {}
    for candidate in (Path(named), path.parent / Path(named).name):
        if candidate.is_file():
            try:
                with open_trace(candidate) as reader:
                    header = reader.header
            except AccelsimError:
                return {}
            return {key: getattr(header, key) for key in SETTING_KEYS}
    return {}


def read_result(path: str | Path) -> dict[str, Any]:
    """One RESULT.json, checked for everything the report reads; ConfigError names the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such result file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a result file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read: {err}") from None
    try:
        result = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path}: not JSON ({err.msg} at line {err.lineno})") from None
    _check_result(result, path)
    return result


def _check_result(result: Any, path: Path) -> None:
    if not isinstance(result, dict) or result.get("format") != RESULT_FORMAT:
        raise ConfigError(f"{path}: not an accelsim result (no \"format\": "
                          f"\"{RESULT_FORMAT}\"; write one with accelsim simulate)")
    if result.get("version") != RESULT_VERSION:
        raise ConfigError(f"{path}: accelsim result version {result.get('version')!r}; "
                          f"this report reads version {RESULT_VERSION} (simulate again)")
    for section in SECTIONS:
        expected = list if section == "layers" else dict
        if not isinstance(result.get(section), expected):
            raise ConfigError(f"{path}: not an accelsim result: '{section}' is missing "
                              f"or not a {expected.__name__}")
    for key in TOTAL_KEYS:
        if not _is_number(result["totals"].get(key)):
            raise ConfigError(f"{path}: totals.{key} is missing or not a number")
    rows = [(f"by_phase.{phase}", row) for phase, row in result["by_phase"].items()]
    rows += [(f"layers[{index}]", row) for index, row in enumerate(result["layers"])]
    for where, row in rows:
        missing = [key for key in ROW_KEYS if not _is_number(row.get(key))] \
            if isinstance(row, dict) else ["every counter"]
        if missing:
            raise ConfigError(f"{path}: {where}.{missing[0]} is missing or not a number")
    for index, row in enumerate(result["layers"]):
        if not isinstance(row.get("name"), str) or not isinstance(row.get("phase"), str):
            raise ConfigError(f"{path}: layers[{index}] has no name or phase")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) \
        and math.isfinite(value)


def _labels(runs: list[Run]) -> list[str]:
    """'DropBack 25x on dropback-edge'; with the net when runs span several nets, every
    training setting in which runs of the same net differ ('Dense, Adam lr 0.001 wd
    0.0001, lr constant on ...'), and the file name when two runs would still share a
    label. Runs of different nets are told apart by the net alone."""
    several_nets = len({run.net for run in runs}) > 1
    facets = [describe_training({"dataset": run.trace.get("dataset"),
                                 "batch_size": run.trace.get("batch_size"), **run.settings})
              for run in runs]
    differing = [""] * len(runs)
    for net in dict.fromkeys(run.net for run in runs):
        members = [i for i, run in enumerate(runs) if run.net == net]
        for i, text in zip(members, differing_text([facets[i] for i in members]),
                           strict=True):
            differing[i] = text
    labels = []
    for run, settings in zip(runs, differing, strict=True):
        name = run.method_name
        if run.method != "dense" and run.compression is not None:
            name += f" {run.compression:.3g}x"
        prefix = f"{run.net} " if several_nets else ""
        middle = f", {settings}" if settings else ""
        labels.append(f"{prefix}{name}{middle} on {run.hardware_name}")
    unique: list[str] = []
    for run, label in zip(runs, labels, strict=True):
        if labels.count(label) > 1:
            label = f"{label} [{run.path.stem}]"
        while label in unique:
            label += "'"
        unique.append(label)
    return unique
