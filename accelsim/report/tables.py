"""The report's numbers: tables per component, phase, operand and layer, and ratios vs dense.

Tables are lists of row dicts in base units (bytes, pJ, cycles) with a ``run`` column; the
same rows become the CSV files, report.json's tables and, formatted, report.md's tables.
Each table's rows of one run sum to that run's totals.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from typing import Any

from accelsim.hw.units import display_scale
from accelsim.report.runs import Run
from accelsim.sim.lowering import PHASES
from accelsim.sim.results import COUNTER_NAMES, ENERGY_PARTS, TRAFFIC_CLASSES, counter

RATIO_METRICS = ("weight_dram_read_bytes", "dram_bytes", "cycles", "energy_pj")
# (less, more, same, none) phrasing of each ratio in report.md; {x} is the factor
_RATIO_PHRASES = {
    "weight_dram_read_bytes": ("reads {x}x less weight data from DRAM",
                               "reads {x}x more weight data from DRAM",
                               "reads as much weight data from DRAM",
                               "reads no weight data from DRAM"),
    "dram_bytes": ("moves {x}x less data to and from DRAM",
                   "moves {x}x more data to and from DRAM",
                   "moves as much data to and from DRAM", "moves no data to or from DRAM"),
    "cycles": ("takes {x}x fewer cycles", "takes {x}x more cycles", "takes as many cycles",
               "takes no cycles"),
    "energy_pj": ("uses {x}x less energy", "uses {x}x more energy", "uses as much energy",
                  "uses no energy"),
}


@dataclass(frozen=True)
class DisplayUnit:
    """The one unit a report's tables show a quantity in (J/mJ/µJ/nJ for energy, decimal
    GB/MB/kB for bytes), scaled to the largest run's total."""

    name: str
    factor: float  # base units (pJ, bytes) in one unit

    @classmethod
    def for_runs(cls, runs: list[Run], total_key: str) -> DisplayUnit:
        kind = "energy" if total_key.startswith("energy_pj") else "size"
        factor, name = display_scale(max(run.total(total_key) for run in runs), kind)
        return cls(name, factor)


def energy_by_component(runs: list[Run]) -> list[dict[str, Any]]:
    rows = []
    for run in runs:
        total = run.total("energy_pj")
        for part in ENERGY_PARTS:
            energy = run.totals[f"energy_pj.{part}"]
            rows.append({"run": run.label, "component": part, "energy_pj": energy,
                         "share_percent": 100 * energy / total if total else 0.0})
    return rows


def dram_by_phase(runs: list[Run]) -> list[dict[str, Any]]:
    rows = []
    for run in runs:
        by_phase = run.result["by_phase"]
        for phase in ordered(by_phase, PHASES):
            counters = by_phase[phase]
            read = counter(counters, "dram_read_bytes")
            write = counter(counters, "dram_write_bytes")
            rows.append({"run": run.label, "phase": phase, "dram_read_bytes": read,
                         "dram_write_bytes": write, "dram_bytes": read + write,
                         "cycles": counters["cycles"]})
    return rows


def dram_by_operand(runs: list[Run]) -> list[dict[str, Any]]:
    rows = []
    for run in runs:
        for operand in TRAFFIC_CLASSES:
            read = run.totals[f"dram_read_bytes.{operand}"]
            write = run.totals[f"dram_write_bytes.{operand}"]
            rows.append({"run": run.label, "operand": operand, "dram_read_bytes": read,
                         "dram_write_bytes": write, "dram_bytes": read + write})
    return rows


def layers(runs: list[Run]) -> list[dict[str, Any]]:
    """Every (layer, phase) row of every run with all its counters, plus DRAM sums."""
    rows = []
    for run in runs:
        for layer in run.result["layers"]:
            counters = {key: value for key, value in layer.items()
                        if key not in ("name", "phase", "mapping", "mappings")}
            read = counter(counters, "dram_read_bytes")
            write = counter(counters, "dram_write_bytes")
            rows.append({"run": run.label, "layer": layer["name"], "phase": layer["phase"],
                         "dram_read_bytes": read, "dram_write_bytes": write,
                         **{key: counters[key] for key in ordered(counters, COUNTER_NAMES)}})
    return rows


def ratios(runs: list[Run]) -> list[dict[str, Any]]:
    """Every non-dense run against the dense run of the same workload and hardware.

    A ratio is dense / run per training step (equal to the ratio of totals when both
    replays cover the same steps): above 1 the run needs less than dense.
    """
    rows = []
    for run in runs:
        baseline = dense_baseline(run, runs)
        if run.method == "dense" or baseline is None:
            continue
        row = {"run": run.label, "baseline": baseline.label,
               "same_steps": run.totals["training_steps"] == baseline.totals["training_steps"]}
        for metric in RATIO_METRICS:
            row[metric] = _ratio(baseline.per_training_step(metric),
                                 run.per_training_step(metric))
        row["sentence"] = ratio_sentence(run, row)
        rows.append(row)
    return rows


def dense_baseline(run: Run, runs: list[Run]) -> Run | None:
    """The first dense run of the same net, dataset, batch size and hardware."""
    return next((other for other in runs if other.method == "dense"
                 and other.workload_key == run.workload_key
                 and other.hardware_key == run.hardware_key), None)


def ratio_sentence(run: Run, row: dict[str, Any]) -> str:
    """'DropBack 25x on dropback-edge reads 9.1x less weight data from DRAM than dense, ...'"""
    phrases = [_phrase(metric, row[metric]) for metric in RATIO_METRICS]
    first = row[RATIO_METRICS[0]]
    if not math.isinf(first) and not math.isnan(first):
        phrases[0] += " as dense" if abs(first - 1) < 0.005 else " than dense"
    sentence = f"{run.label} {', '.join(phrases[:-1])} and {phrases[-1]}"
    if not row["same_steps"]:
        sentence += " (per training step: the two replays cover different steps)"
    return sentence + "."


def times(factor: float) -> str:
    """A ratio as report.md writes it: 9.1, 1.46, 1,234."""
    return f"{factor:,.0f}" if factor >= 1000 else f"{factor:.3g}"


def to_csv(rows: list[dict[str, Any]]) -> str:
    """Rows as CSV, columns in the first row's order; floats in full precision."""
    buffer = io.StringIO()
    if not rows:
        return ""
    columns = list(rows[0])
    for row in rows[1:]:
        columns += [key for key in row if key not in columns]
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n", restval="")
    writer.writeheader()
    writer.writerows({key: repr(value) if isinstance(value, float) else value
                      for key, value in row.items()} for row in rows)
    return buffer.getvalue()


def _phrase(metric: str, factor: float) -> str:
    less, more, same, none = _RATIO_PHRASES[metric]
    if math.isnan(factor):
        return f"cannot be compared on {metric} (no training steps)"
    if math.isinf(factor):
        return none
    if factor == 0:
        return more.format(x="∞")
    if abs(factor - 1) < 0.005:
        return same
    if factor > 1:
        return less.format(x=times(factor))
    return more.format(x=times(1 / factor))


def _ratio(baseline: float, value: float) -> float:
    if math.isnan(baseline) or math.isnan(value):
        return math.nan
    if value > 0:
        return baseline / value
    return 1.0 if baseline == 0 else math.inf


def ordered(keys, order) -> list[str]:
    """``keys`` in ``order`` first, then any others in their own order."""
    known = [key for key in order if key in keys]
    return known + [key for key in keys if key not in known]
