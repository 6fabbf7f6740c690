"""Replay a trace on a described accelerator: every step, layer and phase, counted.

For each recorded step the stored set of every weight tensor (and the structure masks of
filter pruning) decides what the weights cost: stored values (and their metadata) come
from DRAM in the description's storage format, every other weight from the regeneration
unit. Activations, gradients and optimizer state move as :mod:`accelsim.sim.gemm_cost`
and the update pass below say. A step's cost depends only on a small signature — the
stored count and its spread over array folds, the live filters — so it is computed once
per distinct signature and reused for every step that shares it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numba import njit

from accelsim.errors import ConfigError
from accelsim.hw.description import Storage
from accelsim.sim.gemm_cost import ArrayConfig, GemmShape, gemm_cost
from accelsim.sim.lowering import PHASES, Gemm, GemmLayer, gemm_layers, lower
from accelsim.sim.results import INDEX, OPERANDS, SimResult, empty_counters
from accelsim.sim.storage import weight_fetch
from accelsim.trace import StepRecord, TraceHeader, TraceReader

FIDELITIES = ("fast", "event")
REGENERATING_METHODS = ("dropback",)
ROLE_OPERAND = {"inputs": "inputs", "outputs": "outputs", "grad_outputs": "gradients",
                "grad_inputs": "gradients", "grad_weights": "gradients", "weights": "weights"}


@dataclass(frozen=True)
class SimParams:
    """The numbers the replay needs from a hardware description (see sim.hardware)."""

    name: str
    array: ArrayConfig
    clock_hz: float
    weight_bytes: int
    activation_bytes: int
    gradient_bytes: int
    state_bytes: int
    storage: Storage
    has_regen: bool
    regen_pj_per_value: float
    mac_pj: float
    sram_read_pj_per_byte: float
    sram_write_pj_per_byte: float
    dram_read_pj_per_byte: float
    dram_write_pj_per_byte: float
    leakage_w: float
    update_lanes: int  # elementwise update operations per cycle


@dataclass(frozen=True)
class WeightState:
    """What one weight tensor looks like at one step, as far as cost is concerned.

    ``dense``: every (live) weight is stored and read as plain values — all stored, or
    structurally pruned. Otherwise the stored set is unstructured (possibly empty).
    """

    dense: bool
    stored: int = 0
    fillers: int = 0
    fold_counts: tuple[int, ...] = ()  # stored weights per fold of the forward ws grid


DENSE = WeightState(dense=True)


@njit(cache=True)
def fold_counts_kernel(stored_indices, k, n, rows, cols, out):
    """Stored weights per (k-fold, n-fold) block of B[k, n] = W[n, k] (row-major W)."""
    folds_n = out.shape[0] // ((k + rows - 1) // rows)
    for i in range(stored_indices.shape[0]):
        index = stored_indices[i]
        nn = index // k
        kk = index % k
        out[(kk // rows) * folds_n + (nn // cols)] += 1


class Replay:
    """Simulates the steps of one trace on one description (fast fidelity)."""

    def __init__(self, header: TraceHeader, params: SimParams,
                 phases: Iterable[str] = PHASES, fidelity: str = "fast"):
        if fidelity not in FIDELITIES:
            raise ConfigError(f"unknown fidelity {fidelity!r}; choose one of "
                              f"{', '.join(FIDELITIES)}")
        self.header, self.params, self.fidelity = header, params, fidelity
        # What replaces a weight that is not stored: DropBack resets it to its initial
        # value (regenerated on chip, or fetched when there is no unit); pruning methods
        # leave a zero, which a sparse format decodes for free.
        if header.method in REGENERATING_METHODS:
            self.fill = "regen" if params.has_regen else "none"
        else:
            self.fill = "zero"
        self.phases = [p for p in PHASES if p in set(phases)]
        unknown = set(phases) - set(PHASES)
        if unknown:
            raise ConfigError(f"unknown phase(s) {', '.join(sorted(unknown))}; "
                              f"choose from {','.join(PHASES)}")
        self.layers: list[GemmLayer] = gemm_layers(self.header)
        self.update_layers = [layer for layer in self.header.layers if layer.tensor_ids]
        self.layer_names = [layer.name for layer in self.update_layers]
        self._cache: dict[tuple, np.ndarray] = {}
        self._stored_sets: dict[int, tuple[int, int]] = {}
        self.cache_hits = 0

    # -- per step ----------------------------------------------------------------------
    def weight_state(self, mask: np.ndarray, tensor_id: int, layer: GemmLayer) -> WeightState:
        info = self.header.tensor(tensor_id)
        stored = int(np.count_nonzero(mask))
        if stored == info.numel:
            return DENSE
        indices = np.flatnonzero(mask)
        fillers = self.params.storage.padding_entries(indices)
        self._stored_sets[tensor_id] = (stored, fillers)
        cfg = self.params.array
        k, n = layer.weight_k, layer.out_channels
        folds = -(-k // cfg.rows) * -(-n // cfg.cols)
        counts = np.zeros(folds, dtype=np.int64)
        fold_counts_kernel(indices, k, n, cfg.rows, cfg.cols, counts)
        return WeightState(False, stored, fillers, tuple(int(c) for c in counts))

    def step_rows(self, record: StepRecord) -> np.ndarray:
        """Counters (layers x phases x counters) of one recorded step (with full masks)."""
        masks, structure = record.stored_masks, record.structure_masks
        self._stored_sets: dict[int, tuple[int, int]] = {}  # this step's (stored, padding)
        rows = np.zeros((len(self.update_layers), len(self.phases), len(INDEX)))
        position = {name: i for i, name in enumerate(self.layer_names)}
        upstream = None  # (out_channels, live filters) of the previous GEMM layer
        for layer in self.layers:
            out_alive = self._alive(layer, structure)
            in_alive = layer.in_channels
            if upstream and upstream[1] < upstream[0] and layer.in_channels % upstream[0] == 0:
                # Its inputs are the previous layer's channels (maybe flattened with pixels).
                in_alive = layer.in_channels // upstream[0] * upstream[1]
            live = layer.alive(out_alive, in_alive)
            upstream = (layer.out_channels, out_alive)
            if layer.weight_tensor is None or layer.weight_tensor in structure:
                # Structural pruning: the live filters are stored densely, the dead ones
                # are simply absent from the (smaller) GEMM.
                state = DENSE
            else:
                state = self.weight_state(masks[layer.weight_tensor], layer.weight_tensor,
                                          layer)
            for pi, phase in enumerate(self.phases):
                key = (layer.name, phase, live, state)
                cached = self._cache.get(key)
                if cached is None:
                    cached = self._phase_cost(live, phase, state)
                    self._cache[key] = cached
                else:
                    self.cache_hits += 1
                rows[position[layer.name], pi] += cached
        if "update" in self.phases:
            pi = self.phases.index("update")
            for li, info in enumerate(self.update_layers):
                rows[li, pi] += self._update_cost(masks, info.tensor_ids, structure)
        return rows

    def _alive(self, layer: GemmLayer, structure: dict[int, np.ndarray]) -> int:
        mask = structure.get(layer.weight_tensor)
        return layer.out_channels if mask is None else int(np.count_nonzero(mask))

    # -- array phases ------------------------------------------------------------------
    def _phase_cost(self, layer: GemmLayer, phase: str, state: WeightState) -> np.ndarray:
        gemm = lower(layer, phase)
        counters = empty_counters()
        if gemm is None:
            return counters
        p = self.params
        sizes = {"weights": p.weight_bytes, "inputs": p.activation_bytes,
                 "outputs": p.activation_bytes, "grad_outputs": p.gradient_bytes,
                 "grad_inputs": p.gradient_bytes, "grad_weights": p.gradient_bytes}
        g = gemm.groups
        fetch = None
        b_bytes = gemm.b_elements * sizes[gemm.b_role]
        share = None
        if gemm.weight_operand == "b":
            stored = gemm.b_elements if state.dense else state.stored
            fetch = weight_fetch(gemm.b_elements, stored, p.weight_bytes, p.storage,
                                 self.fill, state.fillers)
            b_bytes = fetch.total_bytes
            # Only a sparse fetch follows the mask fold by fold; a dense one is uniform.
            share = self._fold_share(gemm, state) if fetch.stored < gemm.b_elements else None
        shape = GemmShape(gemm.m, gemm.k, gemm.n, g,
                          gemm.a_elements * sizes[gemm.a_role] / g, b_bytes / g,
                          gemm.o_elements * sizes[gemm.o_role] / g,
                          gemm.m * gemm.n * sizes[gemm.o_role],
                          b_footprint_bytes=gemm.b_elements * sizes[gemm.b_role] / g)
        regen = fetch.regen_values / g if fetch else 0.0
        cost = gemm_cost(shape, p.array, regen_values=regen, fold_weight_share=share,
                         fidelity=self.fidelity)
        counters[INDEX["macs"]] = gemm.macs
        counters[INDEX["compute_cycles"]] = cost.compute_cycles
        counters[INDEX["cycles"]] = cost.cycles
        counters[INDEX[f"dram_read_bytes.{ROLE_OPERAND[gemm.a_role]}"]] += cost.a_read_bytes
        if fetch is not None:
            scale = cost.b_read_bytes / fetch.total_bytes if fetch.total_bytes else 0.0
            counters[INDEX["dram_read_bytes.weights"]] += fetch.value_bytes * scale
            counters[INDEX["dram_read_bytes.metadata"]] += fetch.metadata_bytes * scale
            counters[INDEX["regen_values"]] = fetch.regen_values * cost.b_fetches
        else:
            counters[INDEX[f"dram_read_bytes.{ROLE_OPERAND[gemm.b_role]}"]] += cost.b_read_bytes
        out = ROLE_OPERAND[gemm.o_role]
        counters[INDEX[f"dram_write_bytes.{out}"]] += cost.o_write_bytes + cost.psum_spill_bytes / 2
        counters[INDEX[f"dram_read_bytes.{out}"]] += cost.psum_spill_bytes / 2
        counters[INDEX["refetch_bytes"]] = cost.a_refetch_bytes + cost.b_refetch_bytes
        counters[INDEX["psum_spill_bytes"]] = cost.psum_spill_bytes
        self._sram_counts(counters, gemm, cost, sizes)
        self._energy(counters)
        return counters

    def _fold_share(self, gemm: Gemm, state: WeightState) -> np.ndarray | None:
        """Per-fold share of the weight fetch, for ws forward (the grid the counts use)."""
        if not state.fold_counts or self.params.array.dataflow != "ws" or gemm.phase != "fwd":
            return None
        counts = np.asarray(state.fold_counts, dtype=np.float64)
        total = counts.sum()
        return counts / total if total else None

    def _sram_counts(self, counters: np.ndarray, gemm: Gemm, cost, sizes) -> None:
        """Bytes each operand moves between SRAM and the array (ws/os/is alike to first
        order: every operand element is read once per fold that uses it)."""
        cfg = self.params.array
        fr = -(-gemm.k // cfg.rows)
        fc = -(-gemm.n // cfg.cols)
        a = gemm.m * gemm.k * fc * sizes[gemm.a_role]
        b = gemm.k * gemm.n * sizes[gemm.b_role]
        o = gemm.m * gemm.n * fr * sizes[gemm.o_role]
        dram_in = cost.a_read_bytes + cost.b_read_bytes + cost.psum_spill_bytes / 2
        counters[INDEX["sram_read_bytes"]] = (a + b + o * (fr - 1) / fr) * gemm.groups
        counters[INDEX["sram_write_bytes"]] = o * gemm.groups + dram_in

    # -- update ------------------------------------------------------------------------
    def _update_cost(self, masks, tensor_ids, structure) -> np.ndarray:
        """A streaming pass: read weights, gradients and state, write weights and state.

        Unstructured-sparse tensors (DropBack) touch only their stored weights' values,
        state and metadata; scoring every weight needs its initial value, regenerated.
        """
        p = self.params
        counters = empty_counters()
        elements = 0
        for tid in tensor_ids:
            info = self.header.tensor(tid)
            mask = structure.get(tid)
            numel = info.numel
            if mask is not None and mask.size:
                numel = numel * int(np.count_nonzero(mask)) // mask.size
            stored, padding = numel, 0
            if mask is None:
                stored, padding = self._stored_set(tid, masks[tid])
            fetch = weight_fetch(numel, stored, p.weight_bytes, p.storage, self.fill,
                                 padding)
            sparse = fetch.stored < numel
            state_bytes = (fetch.stored if sparse else numel) * p.state_bytes * \
                self.header.optimizer_state_per_weight
            counters[INDEX["dram_read_bytes.weights"]] += fetch.value_bytes
            counters[INDEX["dram_read_bytes.metadata"]] += fetch.metadata_bytes
            counters[INDEX["dram_write_bytes.weights"]] += fetch.value_bytes
            counters[INDEX["dram_write_bytes.metadata"]] += fetch.metadata_bytes
            counters[INDEX["dram_read_bytes.gradients"]] += numel * p.gradient_bytes
            counters[INDEX["dram_read_bytes.optimizer_state"]] += state_bytes
            counters[INDEX["dram_write_bytes.optimizer_state"]] += state_bytes
            # Scoring every weight by its displacement needs every initial value.
            counters[INDEX["regen_values"]] += numel if sparse and self.fill == "regen" else 0
            elements += numel
        moved = dram_bytes(counters)
        compute = -(-elements // max(p.update_lanes, 1))
        regen = counters[INDEX["regen_values"]] / p.array.regen_lanes if p.has_regen else 0.0
        counters[INDEX["compute_cycles"]] = compute
        counters[INDEX["cycles"]] = max(compute, moved / p.array.dram_bytes_per_cycle, regen)
        counters[INDEX["sram_read_bytes"]] = moved / 2
        counters[INDEX["sram_write_bytes"]] = moved / 2
        self._energy(counters)
        return counters

    def _stored_set(self, tensor_id: int, mask: np.ndarray) -> tuple[int, int]:
        """(stored, CSR padding) of a tensor this step; weight_state computed it already
        for the GEMM weights."""
        known = self._stored_sets.get(tensor_id)
        if known is not None:
            return known
        stored = int(np.count_nonzero(mask))
        padding = (self.params.storage.padding_entries(np.flatnonzero(mask))
                   if stored < mask.size else 0)
        self._stored_sets[tensor_id] = (stored, padding)
        return stored, padding

    def _energy(self, counters: np.ndarray) -> None:
        p = self.params
        reads = sum(counters[INDEX[f"dram_read_bytes.{o}"]] for o in OPERANDS)
        writes = sum(counters[INDEX[f"dram_write_bytes.{o}"]] for o in OPERANDS)
        counters[INDEX["energy_pj.mac"]] = counters[INDEX["macs"]] * p.mac_pj
        counters[INDEX["energy_pj.sram"]] = (counters[INDEX["sram_read_bytes"]]
                                             * p.sram_read_pj_per_byte
                                             + counters[INDEX["sram_write_bytes"]]
                                             * p.sram_write_pj_per_byte)
        counters[INDEX["energy_pj.dram"]] = (reads * p.dram_read_pj_per_byte
                                             + writes * p.dram_write_pj_per_byte)
        counters[INDEX["energy_pj.regen"]] = counters[INDEX["regen_values"]] * p.regen_pj_per_value
        counters[INDEX["energy_pj.leakage"]] = (counters[INDEX["cycles"]] / p.clock_hz
                                                * p.leakage_w * 1e12)


def dram_bytes(counters: np.ndarray) -> float:
    """DRAM bytes read and written, every operand."""
    return float(sum(counters[INDEX[f"dram_read_bytes.{o}"]]
                     + counters[INDEX[f"dram_write_bytes.{o}"]] for o in OPERANDS))


def select_steps(steps: np.ndarray, spec: str | None) -> np.ndarray:
    """Recorded steps within ``A:B`` (inclusive A, exclusive B; either may be empty)."""
    if not spec:
        return steps
    try:
        start_text, _, end_text = spec.partition(":")
        start = int(start_text) if start_text else None
        end = int(end_text) if end_text else None
    except ValueError:
        raise ConfigError(f"--steps {spec!r}: expected A:B with integers") from None
    chosen = steps[((start is None) | (steps >= (start or 0)))
                   & ((end is None) | (steps < (end if end is not None else 0)))]
    if chosen.size == 0:
        raise ConfigError(f"--steps {spec!r} selects none of the recorded steps "
                          f"{int(steps[0])}..{int(steps[-1])}")
    return chosen


def replay(reader: TraceReader, params: SimParams, phases: Iterable[str] = PHASES,
           steps: str | None = None, progress: bool = False,
           fidelity: str = "fast") -> SimResult:
    """Simulate the chosen steps of a trace; returns every counter per step/layer/phase."""
    all_steps = np.asarray(reader.steps, dtype=np.int64)
    if all_steps.size == 0:
        raise ConfigError(f"{reader.path}: the trace holds no steps")
    chosen = set(int(s) for s in select_steps(all_steps, steps))
    last = max(chosen)

    def records():
        for record in reader.iter_steps(masks=True):
            if record.step in chosen:
                yield record
            if record.step >= last:  # steps are in order: nothing more to decode
                return


    return replay_records(reader.header, records(), params, phases, steps, reader.path,
                          progress=progress, count=len(chosen), fidelity=fidelity)


def replay_records(header: TraceHeader, records: Iterable[StepRecord], params: SimParams,
                   phases: Iterable[str] = PHASES, steps: str | None = None,
                   source: str = "", progress: bool = False,
                   count: int | None = None, fidelity: str = "fast") -> SimResult:
    """Simulate step records that carry full stored masks (``iter_steps(masks=True)``)."""
    from tqdm import tqdm

    engine = Replay(header, params, phases, fidelity)
    rows, chosen, training = [], [], {"stored_weights": [], "churn": [], "loss": [],
                                      "accuracy": []}
    with tqdm(total=count, desc="simulate", unit="step", disable=None if progress else True,
              leave=False) as bar:
        for record in records:
            rows.append(engine.step_rows(record))
            chosen.append(record.step)
            training["stored_weights"].append(
                sum(int(np.count_nonzero(m)) for m in record.stored_masks.values()))
            training["churn"].append(sum(v.size for v in record.entered.values())
                                     + sum(v.size for v in record.left.values()))
            training["loss"].append(float(record.loss))
            training["accuracy"].append(float(record.accuracy))
            bar.update(1)
    evaluated = [a for a in training["accuracy"] if np.isfinite(a)]
    return SimResult(
        trace={"path": source, "net": header.net, "method": header.method,
               "method_params": header.method_params, "dataset": header.dataset,
               "batch_size": header.batch_size, "params_total": header.params_total,
               "record_every": header.record_every,
               "final_accuracy": evaluated[-1] if evaluated else None},
        hardware={"name": params.name},
        layers=engine.layer_names, phases=engine.phases,
        steps=np.asarray(chosen, dtype=np.int64),
        step_weight=np.full(len(chosen), float(header.record_every)), rows=np.asarray(rows),
        training=training,
        options={"fidelity": fidelity, "phases": engine.phases, "steps": steps or "all",
                 "signatures": len(engine._cache), "signature_hits": engine.cache_hits},
    )
