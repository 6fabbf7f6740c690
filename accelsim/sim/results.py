"""Simulation results: counters per step x layer x phase, their sums, JSON and CSV.

Every counter is a column; a row is one (step, layer, phase). Totals are sums of rows
(weighted by how many training steps each recorded step stands for), so a total always
equals the sum of its parts. A result always holds two aggregates — per (layer, phase)
summed over steps (weighted) and per (step, phase) summed over layers — and the full
(step, layer, phase) rows only while they are small (long traces would need gigabytes).
JSON output is deterministic: same inputs, same bytes.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from accelsim.errors import ConfigError

OPERANDS = ("weights", "metadata", "inputs", "outputs", "gradients", "optimizer_state")
ENERGY_PARTS = ("mac", "sram", "dram", "regen", "leakage")

COUNTERS = (
    ("macs", "multiply-accumulates"),
    ("compute_cycles", "cycles the PE array computes, no stalls"),
    ("cycles", "cycles including DRAM and regeneration stalls"),
    *((f"dram_read_bytes.{o}", f"DRAM bytes read: {o}") for o in OPERANDS),
    *((f"dram_write_bytes.{o}", f"DRAM bytes written: {o}") for o in OPERANDS),
    ("refetch_bytes", "DRAM bytes read again because an operand did not fit its buffer"),
    ("psum_spill_bytes", "partial-sum bytes spilled to DRAM and read back"),
    ("sram_read_bytes", "bytes read from on-chip SRAM"),
    ("sram_write_bytes", "bytes written to on-chip SRAM"),
    ("regen_values", "weight values produced by the regeneration unit"),
    *((f"energy_pj.{p}", f"energy of {p}, pJ") for p in ENERGY_PARTS),
)
COUNTER_NAMES = tuple(name for name, _ in COUNTERS)
INDEX = {name: i for i, name in enumerate(COUNTER_NAMES)}


def empty_counters() -> np.ndarray:
    return np.zeros(len(COUNTER_NAMES), dtype=np.float64)


@dataclass
class SimResult:
    """Rows of counters with their (step, layer, phase) keys, plus what was simulated."""

    trace: dict[str, Any]
    hardware: dict[str, Any]
    layers: list[str]
    phases: list[str]
    steps: np.ndarray  # recorded step numbers simulated
    step_weight: np.ndarray  # training steps each recorded step stands for
    # (steps, layers, phases, counters); None when only the aggregates were kept.
    rows: np.ndarray | None = None
    options: dict[str, Any] = field(default_factory=dict)
    # Per recorded step, from the trace: stored weights, churn (entered + left), loss and
    # test accuracy (NaN where not evaluated).
    training: dict[str, list[float]] = field(default_factory=dict)
    # (layers, phases, counters): summed over steps, weighted by step_weight.
    layer_rows: np.ndarray | None = None
    # (steps, phases, counters): summed over layers, unweighted.
    step_rows: np.ndarray | None = None
    # The burst-level DRAM model's findings, when it was run (accelsim.sim.dram_replay).
    dram: dict[str, Any] | None = None

    def __post_init__(self):
        if self.rows is not None:
            if self.layer_rows is None:
                self.layer_rows = (self.rows * self.step_weight[:, None, None, None]).sum(0)
            if self.step_rows is None:
                self.step_rows = self.rows.sum(axis=1)
        if self.layer_rows is None or self.step_rows is None:
            raise ValueError("SimResult needs rows, or both layer_rows and step_rows")

    # -- aggregations ------------------------------------------------------------------
    def require_rows(self) -> np.ndarray:
        """The (step, layer, phase) rows; a clear error when only aggregates were kept."""
        if self.rows is None:
            raise ConfigError(
                f"per-(step, layer) rows of this result were not kept ({len(self.steps)} "
                "steps); choose fewer steps (--steps A:B, --every N) for that detail")
        return self.rows

    @property
    def totals(self) -> dict[str, float]:
        """Every counter summed over steps (weighted), layers and phases, plus the sums
        named in the result contract (dram_read_bytes, weight_dram_read_bytes, ...)."""
        summed = self.layer_rows.sum(axis=(0, 1))
        out = {name: float(summed[i]) for i, name in enumerate(COUNTER_NAMES)}
        out["dram_read_bytes"] = sum(out[f"dram_read_bytes.{o}"] for o in OPERANDS)
        out["dram_write_bytes"] = sum(out[f"dram_write_bytes.{o}"] for o in OPERANDS)
        out["weight_dram_read_bytes"] = (out["dram_read_bytes.weights"]
                                         + out["dram_read_bytes.metadata"])
        out["energy_pj"] = sum(out[f"energy_pj.{p}"] for p in ENERGY_PARTS)
        out["training_steps"] = float(self.step_weight.sum())
        return out

    def by_layer(self) -> list[dict[str, Any]]:
        """One row per (layer, phase), summed over steps; layers in execution order."""
        summed = self.layer_rows
        rows = []
        for li, layer in enumerate(self.layers):
            for pi, phase in enumerate(self.phases):
                values = summed[li, pi]
                if not values.any():
                    continue
                row = {"name": layer, "phase": phase}
                row.update({n: float(values[i]) for i, n in enumerate(COUNTER_NAMES)})
                rows.append(row)
        return rows

    def by_phase(self) -> dict[str, dict[str, float]]:
        summed = self.layer_rows.sum(axis=0)
        return {phase: {n: float(summed[pi, i]) for i, n in enumerate(COUNTER_NAMES)}
                for pi, phase in enumerate(self.phases)}

    def per_step(self) -> dict[str, list[float]]:
        """Per recorded step (not weighted): cycles, DRAM bytes, energy — for figures."""
        summed = self.step_rows.sum(axis=1)
        reads = sum(summed[:, INDEX[f"dram_read_bytes.{o}"]] for o in OPERANDS)
        writes = sum(summed[:, INDEX[f"dram_write_bytes.{o}"]] for o in OPERANDS)
        weights = (summed[:, INDEX["dram_read_bytes.weights"]]
                   + summed[:, INDEX["dram_read_bytes.metadata"]])
        energy = sum(summed[:, INDEX[f"energy_pj.{p}"]] for p in ENERGY_PARTS)
        return {"step": [int(s) for s in self.steps],
                "cycles": _floats(summed[:, INDEX["cycles"]]),
                "dram_read_bytes": _floats(reads), "dram_write_bytes": _floats(writes),
                "weight_dram_read_bytes": _floats(weights), "energy_pj": _floats(energy),
                **{key: list(values) for key, values in self.training.items()}}

    def to_frame(self):
        """Every counter per (step, layer, phase) as a long pandas DataFrame (unweighted)."""
        import pandas as pd

        steps, layers, phases = self.require_rows().shape[:3]
        index = pd.MultiIndex.from_product(
            [self.steps.tolist(), self.layers, self.phases], names=["step", "layer", "phase"])
        frame = pd.DataFrame(self.rows.reshape(steps * layers * phases, -1), index=index,
                             columns=list(COUNTER_NAMES))
        return frame[frame.any(axis=1)].reset_index()

    # -- output ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "accelsim-result", "version": 1,
            "trace": self.trace, "hardware": self.hardware, "options": self.options,
            "totals": self.totals, "by_phase": self.by_phase(),
            "layers": self.by_layer(), "per_step": self.per_step(),
            **({"dram": self.dram} if self.dram is not None else {}),
        }

    def to_json(self) -> str:
        return json.dumps(_clean(self.to_dict()), indent=1, sort_keys=True) + "\n"

    def layers_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["name", "phase", *COUNTER_NAMES])
        for row in self.by_layer():
            writer.writerow([row["name"], row["phase"], *(_fmt(row[n]) for n in COUNTER_NAMES)])
        return buffer.getvalue()


def _floats(values: np.ndarray) -> list[float]:
    return [float(v) for v in values]


def _fmt(value: float) -> str:
    return repr(float(value))


def _clean(value):
    """JSON-safe: NaN/inf become null; numpy scalars become Python numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        value = float(value)
        return value if math.isfinite(value) else None
    return value
