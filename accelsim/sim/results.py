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

TRAFFIC_CLASSES = ("weights", "metadata", "inputs", "outputs", "gradients",
                   "optimizer_state")
ENERGY_PARTS = ("mac", "sram", "dram", "regen", "leakage", "vector")
# What the vector unit's operations work on, priced at that dtype (accelsim.sim.pricing).
VECTOR_KINDS = ("activations", "gradients", "optimizer_state")
# What a MAC multiplies: its two operands' dtype roles (accelsim.sim.lowering.mac_class).
# The forward GEMM multiplies weights by activations, backward-data weights by gradients,
# backward-weight activations by gradients; activation x activation GEMMs (attention)
# run in the forward pass. Each is priced at its operands' dtypes (accelsim.sim.pricing).
MAC_CLASSES = ("weights_activations", "weights_gradients", "activations_gradients",
               "activations_activations", "gradients_gradients")

COUNTERS = (
    *((f"macs.{c}", f"multiply-accumulates of {c.replace('_', ' x ')}") for c in MAC_CLASSES),
    ("compute_cycles", "cycles the PE array computes, no stalls"),
    ("cycles", "cycles including DRAM and regeneration stalls"),
    *((f"dram_read_bytes.{o}", f"DRAM bytes read: {o}") for o in TRAFFIC_CLASSES),
    *((f"dram_write_bytes.{o}", f"DRAM bytes written: {o}") for o in TRAFFIC_CLASSES),
    ("refetch_bytes", "DRAM bytes read again because an operand did not fit its buffer"),
    ("psum_spill_bytes", "partial-sum bytes spilled to DRAM and read back"),
    ("sram_read_bytes", "bytes read from on-chip SRAM"),
    ("sram_write_bytes", "bytes written to on-chip SRAM"),
    ("regen_values", "weight values produced by the regeneration unit"),
    *((f"vector_ops.{k}", f"vector-unit operations on {k.replace('_', ' ')}")
      for k in VECTOR_KINDS),
    *((f"energy_pj.{p}", f"energy of {p}, pJ (priced: accelsim.sim.pricing)")
      for p in ENERGY_PARTS),
)
# A zero-skipping array (accelsim.sim.sparsity): macs.<class> count executed MACs only.
COUNTERS += (("macs_skipped", "multiply-accumulates a zero-skipping array skipped (a zero "
              "operand); executed + skipped = the MACs of a dense array"),)
COUNTER_NAMES = tuple(name for name, _ in COUNTERS)
INDEX = {name: i for i, name in enumerate(COUNTER_NAMES)}
ENERGY_COUNTERS = tuple(f"energy_pj.{p}" for p in ENERGY_PARTS)

# Sums named in the result contract, each over counters: the one place they are defined.
DERIVED = {
    "macs": tuple(f"macs.{c}" for c in MAC_CLASSES),
    "vector_ops": tuple(f"vector_ops.{k}" for k in VECTOR_KINDS),
    "dram_read_bytes": tuple(f"dram_read_bytes.{o}" for o in TRAFFIC_CLASSES),
    "dram_write_bytes": tuple(f"dram_write_bytes.{o}" for o in TRAFFIC_CLASSES),
    "weight_dram_read_bytes": ("dram_read_bytes.weights", "dram_read_bytes.metadata"),
    "energy_pj": ENERGY_COUNTERS,
}
DERIVED["dram_bytes"] = DERIVED["dram_read_bytes"] + DERIVED["dram_write_bytes"]


def _named(values: np.ndarray) -> dict[str, float]:
    """One row of counters by name, with every :data:`DERIVED` sum."""
    out = {n: float(values[i]) for i, n in enumerate(COUNTER_NAMES)}
    out.update({name: float(counter(values, name)) for name in DERIVED})
    return out


def counter(values, name: str):
    """A counter or one of the :data:`DERIVED` sums, from an array with the counters on
    its last axis or from a mapping of counter names (a RESULT.json row)."""
    if isinstance(values, np.ndarray):
        if name in INDEX:
            return values[..., INDEX[name]]
        return sum(values[..., INDEX[part]] for part in DERIVED[name])
    if name in DERIVED:
        return sum(float(values.get(part, 0.0)) for part in DERIVED[name])
    return float(values[name])


def pe_utilization(row: dict[str, float], pe_count: int | None) -> float | None:
    """Executed MACs / (PEs x compute cycles) of a per-layer row (None: no MACs, or a
    result that does not record its PE count)."""
    macs, compute = counter(row, "macs"), float(row.get("compute_cycles", 0.0))
    if not pe_count or macs <= 0 or compute <= 0:
        return None
    return macs / (pe_count * compute)


def sampling_error(step_rows: np.ndarray, covers: np.ndarray) -> dict[str, float | None]:
    """Estimated relative standard error of sampled totals (systematic sampling, the
    successive-difference variance estimator): cycles, DRAM bytes, weight DRAM reads and
    energy (``step_rows``: steps x counters, priced). None with fewer than two samples."""
    metrics = {name: counter(step_rows, name) for name in
               ("cycles", "dram_bytes", "weight_dram_read_bytes", "energy_pj")}
    n = step_rows.shape[0]
    population = covers.sum()
    out: dict[str, float | None] = {}
    for name, y in metrics.items():
        total = float((y * covers).sum())
        if n < 2 or total == 0:
            out[name] = None if n < 2 else 0.0
            continue
        variance = population ** 2 * (1 - n / population) / n \
            * float(np.sum(np.diff(y) ** 2)) / (2 * (n - 1))
        out[name] = float(np.sqrt(max(variance, 0.0))) / total
    return out


class Counters:
    """Counter values over named axes (some of step, layer, phase), the counters on the
    last axis of ``values``; every derived sum is read through :func:`counter`."""

    def __init__(self, values: np.ndarray, axes: tuple[str, ...]):
        if values.ndim != len(axes) + 1 or values.shape[-1] != len(COUNTER_NAMES):
            raise ValueError(f"counters of shape {values.shape} do not match axes {axes}")
        self.values, self.axes = values, tuple(axes)

    def __getitem__(self, name: str) -> np.ndarray:
        return counter(self.values, name)

    def sum(self, *axes: str, weights: np.ndarray | None = None) -> Counters:
        """Summed over ``axes`` (all when none are given); ``weights`` scale the first."""
        axes = axes or self.axes
        values = self.values
        if weights is not None:
            shape = [1] * values.ndim
            shape[self.axes.index(axes[0])] = -1
            values = values * np.reshape(weights, shape)
        summed = values.sum(axis=tuple(self.axes.index(a) for a in axes))
        return Counters(summed, tuple(a for a in self.axes if a not in axes))

    def as_dict(self) -> dict[str, float]:
        """Every counter and derived sum of a fully summed (axis-free) Counters."""
        if self.axes:
            raise ValueError(f"as_dict needs every axis summed; {self.axes} remain")
        return _named(self.values)


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
    # (steps, counters): summed over layers and phases, unweighted.
    step_rows: np.ndarray | None = None
    # The burst-level DRAM model's findings, when it was run (accelsim.sim.dram_replay).
    dram: dict[str, Any] | None = None
    # (layer, phase) -> [(mapping as reported, training steps it served), ...], most
    # served first: the mapper's choice for every GEMM layer-phase.
    mappings: dict[tuple[str, str], list[tuple[dict[str, Any], float]]] = \
        field(default_factory=dict)

    def __post_init__(self):
        if self.rows is not None:
            rows = Counters(self.rows, ("step", "layer", "phase"))
            if self.layer_rows is None:
                self.layer_rows = rows.sum("step", weights=self.step_weight).values
            if self.step_rows is None:
                self.step_rows = rows.sum("layer", "phase").values
        if self.layer_rows is None or self.step_rows is None:
            raise ValueError("SimResult needs rows, or both layer_rows and step_rows")

    # -- aggregations ------------------------------------------------------------------
    @property
    def by_layer_phase(self) -> Counters:
        return Counters(self.layer_rows, ("layer", "phase"))

    @property
    def by_step(self) -> Counters:
        return Counters(self.step_rows, ("step",))

    def require_rows(self) -> np.ndarray:
        """The (step, layer, phase) rows; a clear error when only aggregates were kept."""
        if self.rows is None:
            raise ConfigError(
                f"per-(step, layer) rows of this result were not kept ({len(self.steps)} "
                "steps); choose fewer steps (--steps A:B, --every N) for that detail, or "
                "save them (simulate --rows) to read them back")
        return self.rows

    @property
    def totals(self) -> dict[str, float]:
        """Every counter summed over steps (weighted), layers and phases, plus the sums
        named in the result contract (dram_read_bytes, weight_dram_read_bytes, ...)."""
        out = self.by_layer_phase.sum().as_dict()
        out["training_steps"] = float(self.step_weight.sum())
        return out

    def by_layer(self) -> list[dict[str, Any]]:
        """One row per (layer, phase), summed over steps; layers in execution order. GEMM
        rows carry the ``mapping`` that served most steps (and ``mappings``, each with the
        training steps it served, when the mapper chose more than one)."""
        summed = self.layer_rows
        rows = []
        for li, layer in enumerate(self.layers):
            for pi, phase in enumerate(self.phases):
                values = summed[li, pi]
                if not values.any():
                    continue
                row = {"name": layer, "phase": phase, **_named(values)}
                utilization = pe_utilization(row, self.options.get("pe_count"))
                if utilization is not None:
                    row["pe_utilization"] = utilization
                chosen = self.mappings.get((layer, phase))
                if chosen:
                    row["mapping"] = dict(chosen[0][0])
                    if len(chosen) > 1:
                        row["mappings"] = [{**m, "training_steps": w} for m, w in chosen]
                rows.append(row)
        return rows

    def by_phase(self) -> dict[str, dict[str, float]]:
        summed = self.layer_rows.sum(axis=0)
        return {phase: _named(summed[pi]) for pi, phase in enumerate(self.phases)}

    def per_step(self) -> dict[str, list[float]]:
        """Per recorded step (not weighted), summed over layers and phases: every counter
        and derived sum — for figures, and enough to re-price without replaying."""
        steps = self.by_step
        out: dict[str, list] = {"step": [int(s) for s in self.steps]}
        out.update({name: _floats(steps[name]) for name in (*COUNTER_NAMES, *DERIVED)})
        out.update({key: list(values) for key, values in self.training.items()})
        return out

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
    def to_dict(self, rows: bool = False) -> dict[str, Any]:
        """The RESULT.json document; ``rows``: also every (step, layer, phase) row (large;
        :func:`load_result` reads them back for ``to_frame``)."""
        out = {
            "format": RESULT_FORMAT, "version": RESULT_VERSION,
            "trace": self.trace, "hardware": self.hardware, "options": self.options,
            "totals": self.totals, "by_phase": self.by_phase(),
            "layers": self.by_layer(), "per_step": self.per_step(),
            "step_weight": _floats(self.step_weight), "layer_order": list(self.layers),
            "phase_order": list(self.phases),
            **({"dram": self.dram} if self.dram is not None else {}),
        }
        if rows:
            out["rows"] = {"counters": list(COUNTER_NAMES),
                           "values": self.require_rows().tolist()}
        return out

    def to_json(self, rows: bool = False) -> str:
        return json.dumps(_clean(self.to_dict(rows)), indent=1, sort_keys=True) + "\n"

    def layers_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        columns = (*COUNTER_NAMES, *DERIVED)
        writer.writerow(["name", "phase", *columns])
        for row in self.by_layer():
            writer.writerow([row["name"], row["phase"], *(_fmt(row[n]) for n in columns)])
        return buffer.getvalue()

    # -- input -------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, document: dict[str, Any], source: str = "result") -> SimResult:
        """The SimResult a :meth:`to_dict` document describes (see :func:`load_result`)."""
        try:
            return _from_dict(cls, document)
        except (KeyError, TypeError, ValueError, IndexError) as error:
            raise ConfigError(f"{source}: not a readable accelsim result of version "
                              f"{RESULT_VERSION} ({type(error).__name__}: {error}); "
                              "re-run accelsim simulate to write one") from None


RESULT_FORMAT = "accelsim-result"
# 2: per_step carries every counter; step_weight, layer_order and phase_order make it
# loadable; GEMM rows carry their mapping.
# 3: MACs counted by what they multiply (macs.<class>; macs is their sum).
RESULT_VERSION = 3


def _numbers(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def _from_dict(cls, doc: dict[str, Any]) -> SimResult:
    if doc.get("format") != RESULT_FORMAT or doc.get("version") != RESULT_VERSION:
        raise ValueError(f"format {doc.get('format')!r} version {doc.get('version')!r}")
    phases = list(doc["phase_order"])
    layer_names = list(doc["layer_order"])
    layer_rows = np.zeros((len(layer_names), len(phases), len(COUNTER_NAMES)))
    mappings = {}
    for row in doc["layers"]:
        li, pi = layer_names.index(row["name"]), phases.index(row["phase"])
        layer_rows[li, pi] = [row.get(name) or 0.0 for name in COUNTER_NAMES]
        if "mappings" in row:
            mappings[(row["name"], row["phase"])] = [
                ({k: v for k, v in m.items() if k != "training_steps"}, m["training_steps"])
                for m in row["mappings"]]
        elif "mapping" in row:
            mappings[(row["name"], row["phase"])] = [(row["mapping"], float(
                sum(doc["step_weight"])))]
    per_step = doc["per_step"]
    zeros = [0.0] * len(per_step["step"])  # a counter added since the file was written
    step_rows = np.stack([_numbers(per_step.get(name, zeros)) for name in COUNTER_NAMES],
                         axis=-1) \
        if per_step["step"] else np.zeros((0, len(COUNTER_NAMES)))
    rows = None
    if "rows" in doc:
        names = doc["rows"]["counters"]
        stored = np.asarray(doc["rows"]["values"], dtype=np.float64)
        rows = stored[..., [names.index(name) for name in COUNTER_NAMES]]
    training = {key: [np.nan if v is None else v for v in values]
                for key, values in per_step.items()
                if key not in ("step", *COUNTER_NAMES, *DERIVED)}
    return cls(trace=doc["trace"], hardware=doc["hardware"], layers=layer_names,
               phases=phases, steps=np.asarray(per_step["step"], dtype=np.int64),
               step_weight=np.asarray(doc["step_weight"], dtype=np.float64), rows=rows,
               options=doc["options"], training=training, layer_rows=layer_rows,
               step_rows=step_rows, dram=doc.get("dram"), mappings=mappings)


def load_result(path) -> SimResult:
    """Read a RESULT.json that ``accelsim simulate`` (or :meth:`SimResult.to_json`) wrote."""
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such result file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(f"{path}: not a JSON result file ({error})") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: not an accelsim result (a JSON object is expected)")
    return SimResult.from_dict(document, str(path))


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
