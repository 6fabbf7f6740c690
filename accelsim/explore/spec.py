"""Sweep specs: a TOML file naming traces, hardware, overrides and fidelities, expanded
into validated points before any simulation starts.

Points are traces x hardware x override sets x fidelities, in that nesting order (the
last varies fastest). Override sets are the cartesian product of ``[grid]`` followed by
the ``[[points]]`` list. Every (hardware, override set) pair is applied with
``Hardware.replace`` here, so a bad key, unit or value fails now, naming the spec file.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import accelsim
from accelsim.errors import AccelsimError, ConfigError
from accelsim.files import read_toml
from accelsim.hw import Hardware, load_hardware
from accelsim.hw.schema import suggestion
from accelsim.report.labels import describe_training, optimizer_text
from accelsim.sim.lowering import PHASES

SPEC_KEYS = {
    "traces": "trace files, relative to the spec file",
    "hardware": "preset names or hardware TOML files (relative to the spec file)",
    "fidelity": 'simulator fidelities (default ["fast"])',
    "steps": 'recorded steps "A:B" to simulate (default: all)',
    "phases": "training phases to simulate (default: all four)",
    "grid": "dotted hardware keys, each with a list of values: their cartesian product",
    "points": "an explicit list of override tables, after the grid's",
}

# Bumped when a point file's meaning changes, so old files are recomputed, not reused.
POINT_FORMAT_VERSION = 1


@dataclass(frozen=True)
class TraceEntry:
    """One trace of the spec, checked to open, with what rows say about it."""

    label: str  # as written in the spec
    path: str  # absolute
    sha256: str
    net: str
    method: str
    compression: float | None
    dataset: str = "?"
    optimizer: str = "?"  # 'SGD lr 0.1 momentum 0.9': the optimizer and its settings
    lr_schedule: str = "?"


@dataclass(frozen=True, eq=False)
class Point:
    """One simulation of a sweep: everything a worker needs, picklable."""

    index: int
    trace: TraceEntry
    hardware: Hardware  # the validated description with the overrides applied
    hardware_label: str
    overrides: tuple[tuple[str, Any], ...]
    fidelity: str
    steps: str | None
    phases: tuple[str, ...]
    key: str

    def inputs(self) -> dict[str, Any]:
        """The row's input columns: what was simulated, in display order."""
        return {
            "point": self.index,
            "trace": self.trace.label,
            "net": self.trace.net,
            "method": self.trace.method,
            "compression": self.trace.compression,
            "dataset": self.trace.dataset,
            "optimizer": self.trace.optimizer,
            "lr_schedule": self.trace.lr_schedule,
            "hardware": self.hardware.name,
            **dict(self.overrides),
            "fidelity": self.fidelity,
            "steps": self.steps or "all",
            "phases": ",".join(self.phases),
            "key": self.key,
        }

    def describe(self) -> str:
        """A short line naming the point, for messages."""
        settings = ", ".join(f"{k}={v}" for k, v in self.overrides)
        return (f"point {self.index} ({self.trace.label} on {self.hardware_label}"
                f"{': ' + settings if settings else ''})")


@dataclass(frozen=True)
class SweepSpec:
    """A parsed, validated spec and the points it expands to, in spec order."""

    path: Path
    override_keys: tuple[str, ...]  # every override key, in order of first appearance
    points: tuple[Point, ...]

    @property
    def name(self) -> str:
        return self.path.stem


def load_spec(path: str | Path) -> SweepSpec:
    """Read and validate a spec; ConfigError naming the file and key on any problem."""
    from accelsim.sim.replay import FIDELITIES

    path = Path(path)
    shown = str(path)
    document = _read(path, shown)
    unknown = [key for key in document if key not in SPEC_KEYS]
    if unknown:
        raise ConfigError(f"{shown}: unknown key {unknown[0]!r}"
                          f"{suggestion(unknown[0], SPEC_KEYS)} "
                          f"(keys: {', '.join(SPEC_KEYS)})")
    for required in ("traces", "hardware"):
        if required not in document:
            raise ConfigError(f"{shown}: missing key {required!r} ({SPEC_KEYS[required]})")
    base = path.parent
    steps = _steps(document.get("steps"), shown)
    chosen_phases = _chosen(document.get("phases", list(PHASES)), "phases", PHASES, shown)
    phases = tuple(phase for phase in PHASES if phase in chosen_phases)  # replay order
    fidelities = _chosen(document.get("fidelity", ["fast"]), "fidelity", FIDELITIES, shown)
    trace_labels = _names(document["traces"], "traces", shown)
    hardware = [(label, _hardware(base, label, i, shown))
                for i, label in enumerate(_names(document["hardware"], "hardware", shown))]
    override_sets = _override_sets(document, shown)
    variants = [(label, tuple(overrides.items()),
                 _apply(hw, label, origin, overrides, shown))
                for label, hw in hardware for origin, overrides in override_sets]
    # Last, as reading every chunk of every trace is the slowest check.
    traces = [_trace(base, label, i, steps, shown) for i, label in enumerate(trace_labels)]
    points = []
    for trace in traces:
        for label, overrides, described in variants:
            for fidelity in fidelities:
                key = point_key(trace, described, overrides, fidelity, steps, phases)
                points.append(Point(len(points), trace, described, label, overrides,
                                    fidelity, steps, phases, key))
    keys = tuple(dict.fromkeys(k for _, overrides in override_sets for k in overrides))
    return SweepSpec(path, keys, tuple(points))


def point_key(trace: TraceEntry, hw: Hardware, overrides: tuple[tuple[str, Any], ...],
              fidelity: str, steps: str | None, phases: tuple[str, ...]) -> str:
    """Stable name of a point's result: same inputs (by content), same key.

    The trace counts by its bytes and the hardware by its physical fingerprint, so
    renaming or moving either keeps the key; any change to what is simulated, or a new
    accelsim version, gives a new one.
    """
    identity = {
        "format": POINT_FORMAT_VERSION,
        "accelsim": accelsim.__version__,
        "trace_sha256": trace.sha256,
        "hardware": hw.fingerprint(),
        "overrides": [[key, value] for key, value in sorted(overrides)],
        "fidelity": fidelity,
        "steps": steps or "all",
        "phases": list(phases),
    }
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


# -- pieces of the spec -----------------------------------------------------------------

def _read(path: Path, shown: str) -> dict[str, Any]:
    return read_toml(path, shown, "sweep spec")


def _names(value: Any, key: str, shown: str) -> list[str]:
    """A string or a non-empty list of distinct strings."""
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ConfigError(f'{shown}: {key}: expected a string or a list of strings, '
                          f"got {value!r}")
    if not names:
        raise ConfigError(f"{shown}: {key}: empty list")
    repeated = [n for i, n in enumerate(names) if n in names[:i]]
    if repeated:
        raise ConfigError(f"{shown}: {key}: {repeated[0]!r} is listed twice")
    return names


def _steps(value: Any, shown: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f'{shown}: steps: expected a string like "1:50", got {value!r}')
    start, colon, end = value.partition(":")
    if not colon or not all(part.strip().lstrip("-").isdigit()
                            for part in (start, end) if part.strip()):
        raise ConfigError(f'{shown}: steps: expected "A:B" with integers (either may be '
                          f'empty), got {value!r}')
    return value


def _chosen(value: Any, key: str, known: tuple[str, ...], shown: str) -> tuple[str, ...]:
    """A name or a list of names, each one of ``known`` (phases, fidelities)."""
    names = _names(value, key, shown)
    for name in names:
        if name not in known:
            raise ConfigError(f"{shown}: {key}: unknown {key.rstrip('s')} {name!r}"
                              f"{suggestion(name, known)} (choose from {', '.join(known)})")
    return tuple(names)


def _trace(base: Path, label: str, i: int, steps: str | None, shown: str) -> TraceEntry:
    """Open and verify the trace (a missing or damaged file fails now); check ``steps``."""
    from accelsim.sim.replay import select_steps
    from accelsim.trace import open_trace, verify
    from accelsim.trace.methods import compression_of

    path = (base / label).resolve()
    where = f"{shown}: traces[{i}] {label!r}"
    try:
        with open_trace(path) as reader:
            header, recorded = reader.header, np.asarray(reader.steps, dtype=np.int64)
    except AccelsimError as error:
        raise ConfigError(f"{where}: {error}") from None
    if recorded.size == 0:
        raise ConfigError(f"{where}: the trace holds no steps")
    report = verify(path)  # every chunk, so damage fails now rather than in each point
    if not report.ok:
        raise ConfigError(f"{where}: {report.message}")
    try:
        select_steps(recorded, steps)
    except ConfigError as error:
        raise ConfigError(f"{shown}: steps: on {label}: "
                          f"{str(error).removeprefix('--steps ')}") from None
    facets = describe_training({key: getattr(header, key) for key in (
        "dataset", "batch_size", "optimizer", "optimizer_params", "extra")})
    return TraceEntry(label=label, path=str(path), sha256=_file_sha256(path),
                      net=header.net, method=header.method,
                      compression=compression_of(header.method, header.method_params,
                                                 header.params_total),
                      dataset=facets["dataset"], optimizer=optimizer_text(facets),
                      lr_schedule=facets["lr_schedule"].removeprefix("lr "))


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _hardware(base: Path, label: str, i: int, shown: str) -> Hardware:
    """A path (has a "/" or ends in .toml) is relative to the spec; else a preset name."""
    looks_like_path = "/" in label or label.endswith(".toml")
    try:
        return load_hardware(base / label if looks_like_path else label)
    except AccelsimError as error:
        raise ConfigError(f"{shown}: hardware[{i}] {label!r}: {error}") from None


def _override_sets(document: Mapping[str, Any], shown: str) -> list[tuple[str, dict]]:
    """(where it came from, {dotted key: value}) for the grid product, then the list."""
    sets: list[tuple[str, dict]] = []
    if "grid" in document:
        grid = document["grid"]
        if not isinstance(grid, dict):
            raise ConfigError(f"{shown}: grid: expected a table of "
                              f'"dotted.key" = [values], got {grid!r}')
        axes = _flatten(grid, "grid", shown)
        for key, values in axes.items():
            if not isinstance(values, list):
                raise ConfigError(f'{shown}: grid: "{key}": expected a list of values, '
                                  f"got {values!r} (write [{json.dumps(values)}] for one)")
            if not values:
                raise ConfigError(f'{shown}: grid: "{key}": empty list (give at least one '
                                  f"value)")
        for combination in itertools.product(*axes.values()):
            sets.append(("grid", dict(zip(axes, combination, strict=True))))
    if "points" in document:
        listed = document["points"]
        if not isinstance(listed, list) or not all(isinstance(p, dict) for p in listed):
            raise ConfigError(f"{shown}: points: expected [[points]] tables of "
                              f'"dotted.key" = value')
        if not listed:
            raise ConfigError(f"{shown}: points: empty list")
        for i, table in enumerate(listed):
            sets.append((f"points[{i}]", _flatten(table, f"points[{i}]", shown)))
    return sets or [("defaults", {})]


def _flatten(table: Mapping[str, Any], where: str, shown: str,
             prefix: str = "") -> dict[str, Any]:
    """{"sram.capacity": v} whether written quoted or as nested TOML tables."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        items = (_flatten(value, where, shown, f"{dotted}.") if isinstance(value, dict)
                 else {dotted: value})
        for name, leaf in items.items():
            if name in flat:
                raise ConfigError(f'{shown}: {where}: "{name}" is given twice')
            flat[name] = leaf
    return flat


def _apply(hw: Hardware, label: str, origin: str, overrides: dict[str, Any],
           shown: str) -> Hardware:
    """``hw.replace(overrides)``, or a ConfigError naming the spec and the key."""
    if not overrides:
        return hw
    try:
        return hw.replace(overrides)
    except AccelsimError as error:
        # replace() prefixes "replace(): ", or the preset's file for an unknown section.
        message = str(error).removeprefix("replace(): ").removeprefix(f"{hw.source}: ")
        named = [key for key in overrides
                 if key in message or message.startswith(f"{key.split('.')[0]}:")]
        culprit = (f'"{named[0]}" = {json.dumps(overrides[named[0]], default=str)}'
                   if len(named) == 1 else _settings(overrides.items()))
        raise ConfigError(f"{shown}: {origin}: {culprit} on hardware {label!r}: "
                          f"{message}") from None


def _settings(items: Iterable[tuple[str, Any]]) -> str:
    return "{" + ", ".join(f'"{k}" = {json.dumps(v, default=str)}' for k, v in items) + "}"
