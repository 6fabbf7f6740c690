"""Replay a trace on a described accelerator: every step, layer and phase, counted.

For each recorded step the stored set of every weight tensor (and the structure masks of
filter pruning) decides what the weights cost: stored values (and their metadata) come
from DRAM in the description's storage format, every other weight from the regeneration
unit. Activations, gradients and optimizer state move as :mod:`accelsim.sim.gemm_cost`
and the update pass below say.

Two passes. The first follows every tensor's stored set through the trace's deltas
(:mod:`accelsim.sim.tracker`, O(changes) per step) and snapshots, per simulated step,
each tensor's stored count and CSR padding and the reference state standing for its
cycles. The second computes every counter of every step at once, layer by layer and
phase by phase, as arrays; only the cycles (which depend on how stored weights spread
over the array's folds) come from a cache keyed by (layer, phase, live filters,
reference, mapping) — so the work grows with distinct signatures, not with steps.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from accelsim.errors import ConfigError, TraceError
from accelsim.hw.description import Storage
from accelsim.hw.sparsity import Sparsity
from accelsim.sim import sparsity as zero_skipping
from accelsim.sim.dataflow import Mapping
from accelsim.sim.gemm_cost import (
    ArrayConfig,
    GemmShape,
    choose_mappings,
    gemm_cost,
    mapping_traffic,
)
from accelsim.sim.lowering import (
    PHASES,
    Gemm,
    GemmLayer,
    input_sources,
    lower,
    update_passes,
)
from accelsim.sim.pricing import Prices, price_result
from accelsim.sim.residency import LOSS, ResidencyPlan, Tensor, plan, step_ops
from accelsim.sim.results import INDEX, SimResult, counter, sampling_error
from accelsim.sim.storage import fill_rule, weight_fetch
from accelsim.sim.tracker import StoredSetTracker
from accelsim.sim.workload import layer_passes, step_layers, step_work, workload_summary
from accelsim.trace import StepRecord, TraceHeader, TraceReader
from accelsim.trace.methods import method_meaning

FIDELITIES = ("fast", "event")


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
    update_lanes: int  # elementwise update operations per cycle
    prices: Prices  # applied to the counts once they are complete (accelsim.sim.pricing)
    # Mappings the description pins: (layer, phase) -> Mapping; phase "" pins every phase.
    pinned: tuple[tuple[str, str, Mapping], ...] = ()
    sparsity: Sparsity | None = None  # zero-skipping (accelsim.sim.sparsity)
    weight_dtype: str = "fp32"  # dtypes.weights: where a decayed initial value is zero
    # On-chip residency (accelsim.sim.residency): the SRAM's total bytes, whether tiles
    # are double-buffered, the policy; and whether the update is fused into bwd_weight.
    sram_capacity_bytes: float = 0.0
    double_buffered: bool = True
    residency: str = "none"
    fuse_update: bool = False
    # The vector unit (0 lanes: none) and its cycles per array cycle.
    vector_lanes: int = 0
    fuse_elementwise: bool = False
    vector_clock_ratio: float = 1.0  # array clock / vector clock

    def pinned_mapping(self, layer: str, phase: str) -> Mapping | None:
        for name, pinned_phase, mapping in self.pinned:
            if name == layer and pinned_phase in ("", phase):
                return mapping
        return None


@dataclass(frozen=True)
class PhaseCost:
    """One layer-phase at one weight state: the record the replay computes its cycles
    from (cached per layer, phase, live filters, reference state and mapping) and that
    timeline exports read — the GEMM with its operands, the mapping, the tile inputs
    (shape, regenerated values, per-fold shares) and the cycles they give."""

    gemm: Gemm
    mapping: Mapping
    shape: GemmShape  # one group
    regen_values: float  # per group, per fetch of B
    fold_weight_share: np.ndarray | None
    fold_regen_share: np.ndarray | None
    cycles: float  # all groups
    compute_cycles: int  # all groups
    # Zero-skipping (accelsim.sim.sparsity): the shares are per executed fold, and the
    # permutation bytes a sorted (balanced) fold assignment reads per GEMM (0: unsorted).
    executed_folds: bool = False
    sort_metadata_bytes: float = 0.0

    @property
    def layer(self) -> str:
        return self.gemm.layer

    @property
    def phase(self) -> str:
        return self.gemm.phase


DEFAULT_CYCLE_TOLERANCE = 0.01
# Full (step, layer, phase) rows are kept up to this many entries (x counters x 8 bytes);
# beyond it a result holds its per-layer and per-step aggregates only.
KEEP_ROWS_LIMIT = 500_000


class Replay:
    """Simulates the steps of one trace on one description.

    Counts (traffic, regeneration, MACs, energy but leakage) are exact for every step:
    they follow each tensor's stored count and padding, computed for all simulated steps
    at once. Cycles depend on how the stored weights spread over the array's folds; they
    are computed once per *reference* state and reused for every step whose weight work
    differs from it by at most ``cycle_tolerance`` of the reference's weight time (0:
    exact, a new reference whenever anything changed; see accelsim.sim.tracker).
    """

    def __init__(self, header: TraceHeader, params: SimParams,
                 phases: Iterable[str] = PHASES, fidelity: str = "fast",
                 cycle_tolerance: float = DEFAULT_CYCLE_TOLERANCE):
        if fidelity not in FIDELITIES:
            raise ConfigError(f"unknown fidelity {fidelity!r}; choose one of "
                              f"{', '.join(FIDELITIES)}")
        if not 0 <= cycle_tolerance < 1:
            raise ConfigError(f"--cycle-tolerance {cycle_tolerance!r}: expected a fraction "
                              "in [0, 1)")
        self.header, self.params, self.fidelity = header, params, fidelity
        self.tolerance = float(cycle_tolerance)
        self.fill = fill_rule(method_meaning(header.method), params.has_regen)
        self.phases = [p for p in PHASES if p in set(phases)]
        unknown = set(phases) - set(PHASES)
        if unknown:
            raise ConfigError(f"unknown phase(s) {', '.join(sorted(unknown))}; "
                              f"choose from {','.join(PHASES)}")
        self.step_work = step_work(self.header)
        self.layers: list[GemmLayer] = step_layers(self.header, self.step_work)
        names = [layer.name for layer in self.layers]
        for layer, _, _ in params.pinned:
            if layer not in names:
                raise ConfigError(f"{params.name}: [[mapping]] pins layer {layer!r}, which is "
                                  f"not a GEMM layer of {header.net} ({', '.join(names)})")
        self.updates = update_passes(self.header)
        self.layer_names = [update.layer for update in self.updates]
        # The workload graph (format 1.2): ops no conv2d/linear layer covers, and how
        # many passes each layer ran per step (micro-batches); see accelsim.sim.workload.
        self.graph_gemms = self.step_work.gemms
        for module, _ in self.graph_gemms:
            if module not in self.layer_names:
                self.layer_names.append(module)
        self.vector_ops = self.step_work.vector if params.vector_lanes > 0 else []
        for op in self.vector_ops:
            if op.module not in self.layer_names:
                self.layer_names.append(op.module)
        cfg = params.array
        self.weighted = [layer for layer in self.layers if layer.weight_tensor is not None]
        grids = []
        for layer in self.weighted:
            k, n = layer.weight_k, layer.out_channels
            grids.append((layer.weight_tensor, k, n,
                          *cfg.flow.weight_fold_grid(k, n, cfg.rows, cfg.cols)))
        self.skips_weights = bool(params.sparsity and params.sparsity.skips_weights)
        self.tracker = StoredSetTracker(header, grids, params.storage, params.weight_bytes,
                                        self.fill, cfg.dram_bytes_per_cycle, cfg.regen_lanes,
                                        self.tolerance, keep_channels=self.skips_weights
                                        and cfg.flow.stationary == "b")
        self.zero: np.ndarray | None = None  # (steps x tensors): untracked weights are 0
        self._costs: dict[tuple, PhaseCost] = {}
        self._live: dict[tuple, list[GemmLayer]] = {}
        self.sources = input_sources(self.layers)
        # (layer, phase) -> {mapping: training steps it served}
        self.mappings: dict[tuple[str, str], dict[Mapping, float]] = {}
        self.mapping_roles: dict[tuple[str, str], tuple[str, str, str]] = {}  # A, B, O
        self.regen_cost_range = (-np.inf, np.inf)  # see gemm_cost.MappingChoice
        self.filters: dict[int, int] = {}  # structure-mask entries per tensor
        self.work: dict[int, list[PhaseCost]] | None = None  # a dict: collect PhaseCosts

    # -- pass 1: follow the stored sets ------------------------------------------------
    def follow(self, records: Iterable[StepRecord], chosen: set[int] | None = None,
               progress: bool = False, count: int | None = None, source: str = "") -> _Steps:
        """Apply every record; snapshot the chosen steps (None: every step)."""
        from tqdm import tqdm

        steps = _Steps(len(self.tracker.ids), len(self.weighted))
        columns = self.tracker.column
        with tqdm(total=count, desc="simulate", unit="step", leave=False,
                  disable=None if progress else True) as bar:
            for record in records:
                try:
                    churn = self.tracker.apply(record)
                except ValueError as error:
                    raise TraceError(f"{source or self.header.net}: {error}") from None
                if chosen is not None and record.step not in chosen:
                    continue
                live_key = self._live_layers(record.structure_masks)
                alive = np.full(len(columns), -1, dtype=np.int64)
                for tid, mask in record.structure_masks.items():
                    if mask.size:
                        alive[columns[tid]] = int(np.count_nonzero(mask))
                        self.filters[tid] = mask.size
                steps.add(record, self.tracker, self.tracker.decide(), live_key, alive, churn)
                steps.densities.append(record.activation_density)
                bar.update(1)
        return steps.finish()

    def _live_layers(self, structure: dict[int, np.ndarray]) -> tuple:
        """The GEMM layers with their pruned filters and input channels removed."""
        alive = tuple(int(np.count_nonzero(structure[layer.weight_tensor]))
                      if layer.weight_tensor in structure else layer.out_channels
                      for layer in self.layers)
        if alive not in self._live:
            live, previous_alive = [], None
            for layer, source, out_alive in zip(self.layers, self.sources, alive, strict=True):
                in_alive = layer.in_channels
                if source.previous is not None:
                    # Its inputs are the previous layer's channels (maybe flattened).
                    in_alive = source.channel_repeat * previous_alive
                live.append(layer.alive(out_alive, in_alive))
                previous_alive = out_alive
            self._live[alive] = live
        return alive

    # -- pass 2: counters for all chosen steps -----------------------------------------
    def counters(self, steps: _Steps, step_weight: np.ndarray,
                 keep_rows: bool) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
        """(rows or None, layer_rows, step_rows) of the followed steps; ``step_weight``:
        the training steps each stands for."""
        n, c = len(steps.step), len(INDEX)
        position = {name: i for i, name in enumerate(self.layer_names)}
        shape = (len(self.layer_names), len(self.phases), c)
        rows = np.zeros((n, *shape)) if keep_rows else None
        layer_rows = np.zeros(shape)
        step_rows = np.zeros((n, c))
        self.step_weight = step_weight
        self.zero = zero_skipping.untracked_zero(self.header, np.asarray(steps.step),
                                                 self.params.weight_dtype,
                                                 self.params.sparsity, self.params.name)
        skips = self.params.sparsity is not None and self.params.sparsity.skips_activations
        self.input_density = zero_skipping.input_densities(
            self.header, [layer.name for layer in self.layers], steps.densities) \
            if skips else {}

        def add(li: int, pi: int, block: np.ndarray, where: np.ndarray) -> None:
            layer_rows[li, pi] += step_weight[where] @ block
            step_rows[where] += block
            if rows is not None:
                rows[where, li, pi] += block

        groups: dict[tuple, list[int]] = {}  # steps by live filters
        for i, key in enumerate(steps.live):
            groups.setdefault(key, []).append(i)
        updates = [self._update_rows(steps, update.tensor_ids) for update in self.updates]
        plans = {key: self._plan(key, updates) for key in groups}
        self.residency_summary = next(iter(plans.values())).summary(self.params.residency) \
            if plans else None
        weighted = {layer.name: i for i, layer in enumerate(self.weighted)}
        for gi, layer in enumerate(self.layers):
            li = position[layer.name]
            wi = weighted.get(layer.name)
            for key, members in groups.items():
                where = np.asarray(members, dtype=np.int64)
                live = self._live[key][gi]
                for pi, phase in enumerate(self.phases):
                    if phase == "update":
                        continue
                    served = self._served(plans[key], gi, phase)
                    block = self._phase_rows(layer, live, phase, steps, where, wi, served)
                    add(li, pi, block * layer_passes(self.step_work, layer.name), where)
        every = np.arange(n)
        for module, layer in self.graph_gemms:
            phase = layer.fixed.phase
            if phase in self.phases:
                block = self._phase_rows(layer, layer, phase, steps, every, None)
                add(position[module], self.phases.index(phase), block, every)
        on_chip = self._vector_on_chip(list(plans.values()))
        for op in self.vector_ops:
            if op.phase in self.phases:
                add(position[op.module], self.phases.index(op.phase),
                    np.broadcast_to(self._vector_row(op, on_chip[op.phase]), (n, c)), every)
        if "update" in self.phases:
            pi = self.phases.index("update")
            for li in range(len(self.updates)):
                block = updates[li].copy()
                for key, members in groups.items():
                    at = np.asarray(members, dtype=np.int64)
                    block[at] = self._served_update(block[at], plans[key], li)
                add(li, pi, block, every)
        return rows, layer_rows, step_rows

    def _vector_on_chip(self, plans: list[ResidencyPlan]) -> dict[str, bool]:
        """Per phase, whether its vector ops' tensors stay on chip: when every tensor they
        make in that phase fits at once beside everything the residency plan has live at
        any op of the phase (resident or not) and that op's tiles — a conservative rule,
        monotone in the capacity like the plan's own."""
        p = self.params
        size = {"fwd": p.activation_bytes, "bwd_data": p.gradient_bytes,
                "update": p.state_bytes}
        out = {}
        for phase in ("fwd", "bwd_data", "update"):
            made = sum(op.write_elements for op in self.vector_ops if op.phase == phase)
            phases = {"bwd_data": ("bwd_data", "bwd_weight", "loss")}.get(phase, (phase,))
            demand = max((plan.demand_bytes[g] for plan in plans
                          for g, o in enumerate(plan.ops) if o.phase in phases), default=0.0)
            out[phase] = bool(plans) and demand + made * size[phase] <= p.sram_capacity_bytes
        return out

    def _vector_row(self, op, on_chip: bool = False) -> np.ndarray:
        """One non-GEMM op on the vector unit: its operations, its cycles, and its tensors
        read from and written to SRAM and — unless the phase's vector tensors stay on chip
        (:meth:`_vector_on_chip`) — DRAM. Optimizer ops move no DRAM bytes of their own:
        the update pass already moves weights, gradients and state."""
        p = self.params
        row = np.zeros(len(INDEX))
        kind, size, read, write = {
            "fwd": ("activations", p.activation_bytes, "inputs", "outputs"),
            "bwd_data": ("gradients", p.gradient_bytes, "gradients", "gradients"),
            "update": ("optimizer_state", p.state_bytes, None, None)}[op.phase]
        row[INDEX[f"vector_ops.{kind}"]] = op.ops
        compute = -(-op.ops // p.vector_lanes) * p.vector_clock_ratio
        row[INDEX["compute_cycles"]] = compute
        read_bytes, write_bytes = op.read_elements * size, op.write_elements * size
        row[INDEX["sram_read_bytes"]] = read_bytes
        row[INDEX["sram_write_bytes"]] = write_bytes
        moved = 0.0
        if read is not None and op.fusable and p.fuse_elementwise:
            read_bytes = 0.0  # it runs on the GEMM's output tiles, on chip
        if read is not None and not on_chip:
            row[INDEX[f"dram_read_bytes.{read}"]] += read_bytes
            row[INDEX[f"dram_write_bytes.{write}"]] += write_bytes
            moved = read_bytes + write_bytes
        row[INDEX["cycles"]] = max(compute, moved / p.array.dram_bytes_per_cycle)
        return row

    def vector_summary(self) -> dict:
        """The step's non-GEMM ops: costed on the vector unit, or said not to be."""
        ops = self.step_work.vector
        return {"costed": bool(self.vector_ops), "ops": len(ops),
                "operations_per_step": int(sum(op.ops for op in ops))}

    # -- residency ---------------------------------------------------------------------
    def _plan(self, key: tuple, updates: list[np.ndarray]) -> ResidencyPlan:
        """The residency plan of the step's tensors with these live filters."""
        p = self.params
        live, sizes = self._live[key], self._sizes()
        gemms = {(i, phase): lower(layer, phase) for i, layer in enumerate(live)
                 for phase in ("fwd", "bwd_data", "bwd_weight")}
        ops = step_ops(len(live), [gemms[(i, "bwd_data")] is not None
                                   for i in range(len(live))], len(self.updates))
        at = {(op.phase, op.layer): k for k, op in enumerate(ops)}
        loss = at[(LOSS, -1)]
        by_name = {update.layer: u for u, update in enumerate(self.updates)}

        def peak(u: int, *names: str) -> float:
            return float(max((sum(updates[u][:, INDEX[n]].max(initial=0.0) for n in names)),
                             0.0))

        weight_bytes = {u: peak(u, "dram_read_bytes.weights", "dram_read_bytes.metadata")
                        for u in range(len(self.updates))}

        def nbytes(gemm: Gemm, slot: str) -> float:
            operand = getattr(gemm, slot)
            if operand.is_weight and gemm.layer in by_name:
                return weight_bytes[by_name[gemm.layer]]
            return float(operand.elements * sizes[operand.role])

        factor = 2.0 if p.double_buffered else 1.0
        reserve = [0.0] * len(ops)
        for (i, phase), gemm in gemms.items():
            if gemm is not None:
                reserve[at[(phase, i)]] = factor * sum(nbytes(gemm, s) for s in "abo")
        for u in range(len(self.updates)):
            reserve[at[("update", u)]] = factor * peak(
                u, "dram_read_bytes.weights", "dram_read_bytes.metadata",
                "dram_read_bytes.gradients", "dram_read_bytes.optimizer_state")
        tensors: list[Tensor] = []
        last = len(live) - 1
        consumer = {i: i + 1 for i in range(last)
                    if self.sources[i + 1].previous is self.layers[i]}
        fed = set(consumer.values())
        for i, layer in enumerate(live):
            fwd, bwd_w, bwd_d = gemms[(i, "fwd")], gemms[(i, "bwd_weight")], \
                gemms[(i, "bwd_data")]
            act = Tensor(f"act:{layer.name}", nbytes(fwd, "o"), [(at[("fwd", i)], "o")])
            grad = Tensor(f"grad:{layer.name}", nbytes(bwd_w, "b"))
            j = consumer.get(i)
            if j is not None:
                act.bytes = max(act.bytes, nbytes(gemms[(j, "fwd")], "a"))
                act.uses += [(at[("fwd", j)], "a"), (at[("bwd_weight", j)], "a")]
                if gemms[(j, "bwd_data")] is not None:
                    grad.uses.append((at[("bwd_data", j)], "o"))
                else:
                    grad.external = True
            elif i == last:
                act.uses.append((loss, "a"))
                grad.uses.append((loss, "o"))
            else:
                grad.external = True
            if i not in fed:  # its input comes from outside the chain: DRAM first
                tensors.append(Tensor(f"input:{layer.name}", nbytes(fwd, "a"),
                                      [(at[("fwd", i)], "a"), (at[("bwd_weight", i)], "a")],
                                      external=True))
            if bwd_d is not None:
                grad.uses.append((at[("bwd_data", i)], "a"))
            grad.uses.append((at[("bwd_weight", i)], "b"))
            tensors += [act, grad]
            u = by_name.get(layer.name)
            weight_uses = [(at[("fwd", i)], "b")]
            if bwd_d is not None:
                weight_uses.append((at[("bwd_data", i)], "b"))
            if u is not None:
                weight_uses += [(at[("update", u)], "weights"),
                                (at[("update", u)], "weights_write")]
                if not p.fuse_update:
                    tensors.append(Tensor(f"weight_grad:{layer.name}",
                                          peak(u, "dram_read_bytes.gradients"),
                                          [(at[("bwd_weight", i)], "o"),
                                           (at[("update", u)], "gradients")]))
            size = weight_bytes[u] if u is not None else nbytes(fwd, "b")
            tensors.append(Tensor(f"weights:{layer.name}", size, weight_uses, wraps=True))
        gemm_layers = {layer.name for layer in live}
        for u, update in enumerate(self.updates):
            op = at[("update", u)]
            if update.layer not in gemm_layers:
                tensors.append(Tensor(f"weights:{update.layer}", weight_bytes[u],
                                      [(op, "weights"), (op, "weights_write")], wraps=True))
            tensors.append(Tensor(f"state:{update.layer}",
                                  peak(u, "dram_read_bytes.optimizer_state"),
                                  [(op, "state"), (op, "state_write")], wraps=True))
        return plan(tensors, ops, reserve, p.sram_capacity_bytes, p.residency)

    def _served(self, residency: ResidencyPlan, layer: int, phase: str) -> tuple:
        """(A, B, O) of a layer-phase's GEMM served on chip (no DRAM bytes)."""
        op = residency.index(phase, layer)
        if op is None:
            return (False, False, False)
        a, b, o = (residency.served(op, slot) for slot in "abo")
        if phase == "bwd_weight" and self.params.fuse_update:
            o = True  # the update consumes each weight-gradient tile as it is made
        return (a, b, o)

    def _served_update(self, block: np.ndarray, residency: ResidencyPlan,
                       u: int) -> np.ndarray:
        """An update pass's rows with the traffic its on-chip tensors no longer move."""
        op = residency.index("update", u)
        block = block.copy()
        drop = {"weights": ("dram_read_bytes.weights", "dram_read_bytes.metadata"),
                "weights_write": ("dram_write_bytes.weights", "dram_write_bytes.metadata"),
                "gradients": ("dram_read_bytes.gradients",),
                "state": ("dram_read_bytes.optimizer_state",),
                "state_write": ("dram_write_bytes.optimizer_state",)}
        for slot, names in drop.items():
            fused = slot == "gradients" and self.params.fuse_update
            if fused or residency.served(op, slot):
                for name in names:
                    block[:, INDEX[name]] = 0.0
        if self.params.fuse_update and self.fill == "regen":
            # DropBack scores every weight as its gradient tile is made, against the
            # previous step's threshold, and bins the score into an on-chip histogram
            # for the next one: a compare and an increment per weight on the vector unit.
            numel = sum(self.header.tensor(tid).numel for tid in self.updates[u].tensor_ids)
            block[:, INDEX["vector_ops.optimizer_state"]] += 2 * numel
        self._update_cycles(block)
        return block

    def _phase_rows(self, layer: GemmLayer, live: GemmLayer, phase: str, steps: _Steps,
                    where: np.ndarray, wi: int | None,
                    served: tuple = (False, False, False)) -> np.ndarray:
        """Counters of one layer's phase at the given steps (one row each)."""
        gemm = lower(live, phase)
        rows = np.zeros((where.size, len(INDEX)))
        if gemm is None:
            return rows
        p = self.params
        sizes = self._sizes()
        g = gemm.groups
        fetch = None
        refs = np.full(where.size, -1, dtype=np.int64)
        # Per step: 0 untracked weights hold values, 1 they are zeros, 2 zeros the array
        # skips fold by fold (accelsim.sim.sparsity); executed MACs of the nonzero weights.
        zero_state = np.zeros(where.size, dtype=np.int64)
        macs = np.full(where.size, float(gemm.macs))
        b_bytes = np.full(where.size, float(gemm.b.elements * sizes[gemm.b.role]))
        if gemm.b.is_weight:
            stored, padding = np.full(where.size, gemm.b.elements), np.zeros(where.size)
            if wi is not None:
                column = self.tracker.column[layer.weight_tensor]
                # Structural pruning: the live filters are stored densely, the dead ones
                # are simply absent from the (smaller) GEMM.
                sparse = steps.alive[where, column] < 0
                stored = np.where(sparse, steps.stored[where, column], stored)
                padding = np.where(sparse, steps.padding[where, column], 0)
                # Only a forward pass that holds the weights stationary (B) follows the
                # mask fold by fold; other phases and dataflows see the weight's totals.
                by_fold = phase == "fwd" and p.array.flow.stationary == "b"
                chosen_refs = steps.refs if by_fold else steps.total_refs
                refs = np.where(sparse, chosen_refs[where, wi], -1)
                zeros = sparse.copy() if self.fill == "zero" else np.zeros(where.size, bool)
                if self.zero is not None:
                    zeros |= sparse & self.zero[where, column]
                    zero_state[zeros] = 1
                if self.skips_weights:
                    macs = zero_skipping.executed_macs(
                        gemm.macs, gemm.b.elements, np.where(zeros, stored, gemm.b.elements))
                    if by_fold and gemm.groups == 1:
                        zero_state[zeros & (refs >= 0)] = 2
            decayed = zero_state > 0 if self.zero is not None else None
            fetch = zero_skipping.fetch_arrays(gemm.b.elements, stored, padding,
                                               p.weight_bytes, p.storage, self.fill, decayed)
            b_bytes = fetch["total_bytes"]
        shape = self._shape(gemm, sizes, b_bytes / g, served)
        regen = fetch["regen_values"] / g if fetch else np.zeros(where.size)
        choice = choose_mappings(shape, p.array, regen, p.pinned_mapping(layer.name, phase))
        self._note_choice(gemm, choice, where)
        cycles = np.zeros(where.size)
        compute = np.zeros(where.size)
        sort_bytes = np.zeros(where.size)
        traffic = [np.zeros(where.size) for _ in range(4)]
        for mapping_index in np.unique(choice.index):
            chosen = choice.index == mapping_index
            mapping = choice.candidates[mapping_index]
            for part, values in zip(traffic, mapping_traffic(shape, p.array, mapping),
                                    strict=True):
                part[chosen] = values if np.ndim(values) == 0 else values[chosen]
            pairs = zip(refs[chosen].tolist(), zero_state[chosen].tolist(), strict=True)
            for ref, state in sorted(set(pairs)):
                at = chosen & (refs == ref) & (zero_state == state)
                cost = self._phase_cost(layer, live, gemm, sizes, int(ref), mapping, state,
                                         served)
                cycles[at], compute[at] = cost.cycles, cost.compute_cycles
                sort_bytes[at] = cost.sort_metadata_bytes
                if self.work is not None:
                    for i in np.flatnonzero(at):
                        self.work.setdefault(steps.step[where[i]], []).append(cost)
        a_reads, b_reads, o_writes, spill = traffic
        b_fetches = np.maximum(1.0, np.rint(np.divide(
            b_reads, shape.b_bytes, out=np.ones_like(b_reads), where=shape.b_bytes != 0)))
        density = self.input_density.get(layer.name) if wi is not None else None
        if density is not None and phase in ("fwd", "bwd_weight"):
            # Zero input activations (ReLU outputs) skipped, at the recorded density of
            # the layer-step: independent of the weights' zeros (no activation masks).
            macs = macs * density[where]
        rows[:, INDEX[f"macs.{gemm.mac_class}"]] = macs
        rows[:, INDEX["macs_skipped"]] = gemm.macs - macs
        rows[:, INDEX["dram_read_bytes.metadata"]] += sort_bytes
        rows[:, INDEX["compute_cycles"]] = compute
        rows[:, INDEX["cycles"]] = cycles
        rows[:, INDEX[f"dram_read_bytes.{gemm.a.traffic}"]] += a_reads * g
        if fetch is not None:
            total = fetch["total_bytes"]
            scale = np.divide(b_reads * g, total, out=np.zeros_like(total), where=total != 0)
            rows[:, INDEX["dram_read_bytes.weights"]] += fetch["value_bytes"] * scale
            rows[:, INDEX["dram_read_bytes.metadata"]] += fetch["metadata_bytes"] * scale
            rows[:, INDEX["regen_values"]] = fetch["regen_values"] * b_fetches
        else:
            rows[:, INDEX[f"dram_read_bytes.{gemm.b.traffic}"]] += b_reads * g
        out = gemm.o.traffic
        rows[:, INDEX[f"dram_write_bytes.{out}"]] += o_writes * g + spill * g / 2
        rows[:, INDEX[f"dram_read_bytes.{out}"]] += spill * g / 2
        rows[:, INDEX["refetch_bytes"]] = (a_reads - shape.a_bytes) * g \
            + (b_reads - shape.b_bytes) * g
        rows[:, INDEX["psum_spill_bytes"]] = spill * g
        a_sram, b_sram, writes, psums = p.array.flow.sram_traffic(
            gemm.m, gemm.k, gemm.n, p.array.rows, p.array.cols,
            *(sizes[role] for role in gemm.roles))
        rows[:, INDEX["sram_read_bytes"]] = (a_sram + b_sram + psums) * g
        # What arrives from DRAM is written into SRAM too.
        rows[:, INDEX["sram_write_bytes"]] = writes * g + (a_reads * g + b_reads * g
                                                           + spill * g / 2)
        return rows

    def _note_choice(self, gemm: Gemm, choice, where: np.ndarray) -> None:
        """Tally the training steps each mapping served; narrow the stable price range."""
        key = (gemm.layer, gemm.phase)
        self.mapping_roles[key] = gemm.roles
        served = self.mappings.setdefault(key, {})
        weights = np.bincount(choice.index, weights=self.step_weight[where],
                              minlength=len(choice.candidates))
        for index in np.flatnonzero(weights):
            mapping = choice.candidates[index]
            served[mapping] = served.get(mapping, 0.0) + float(weights[index])
        low, high = choice.regen_cost_range
        self.regen_cost_range = (max(self.regen_cost_range[0], low),
                                 min(self.regen_cost_range[1], high))

    def _sizes(self) -> dict[str, int]:
        p = self.params
        return {"weights": p.weight_bytes, "inputs": p.activation_bytes,
                "outputs": p.activation_bytes, "grad_outputs": p.gradient_bytes,
                "grad_inputs": p.gradient_bytes, "grad_weights": p.gradient_bytes}

    def _shape(self, gemm: Gemm, sizes: dict[str, int], b_bytes,
               served: tuple = (False, False, False)) -> GemmShape:
        """The GEMM's shape for the tiler; an operand ``served`` on chip moves no DRAM
        bytes (accelsim.sim.residency)."""
        g = gemm.groups
        a_on, b_on, o_on = served
        return GemmShape(gemm.m, gemm.k, gemm.n, g,
                         0.0 if a_on else gemm.a.elements * sizes[gemm.a.role] / g,
                         b_bytes * 0.0 if b_on else b_bytes,
                         0.0 if o_on else gemm.o.elements * sizes[gemm.o.role] / g,
                         gemm.m * gemm.n * sizes[gemm.o.role],
                         b_footprint_bytes=gemm.b.elements * sizes[gemm.b.role] / g)

    def _phase_cost(self, layer: GemmLayer, live: GemmLayer, gemm: Gemm,
                    sizes: dict[str, int], ref: int, mapping: Mapping,
                    zero_state: int = 0,
                    served: tuple = (False, False, False)) -> PhaseCost:
        """The GEMM under ``mapping`` with the weight in reference state ``ref`` (-1:
        dense), computed once. ``zero_state``: see _phase_rows (1: untracked weights are
        zeros; 2: and the array skips them, its folds from the reference's channels);
        ``served``: its operands on chip (accelsim.sim.residency)."""
        key = (layer.name, live.out_channels, live.in_channels, gemm.phase, ref, mapping,
               served)
        if zero_state:
            key += (zero_state,)
        known = self._costs.get(key)
        if known is not None:
            return known
        shape, regen, share, regen_share = self._reference_inputs(gemm, gemm.phase, sizes,
                                                                  ref, zero_state > 0, served)
        if zero_state == 2:
            known = self._skipping_cost(gemm, mapping, shape, regen,
                                        self.tracker.references[ref].channel_counts)
        else:
            cost = gemm_cost(shape, self.params.array, regen_values=regen,
                             fold_weight_share=share, fold_regen_share=regen_share,
                             fidelity=self.fidelity, mapping=mapping)
            known = PhaseCost(gemm, mapping, shape, regen, share, regen_share, cost.cycles,
                              cost.compute_cycles)
        self._costs[key] = known
        return known

    def _skipping_cost(self, gemm: Gemm, mapping: Mapping, shape: GemmShape, regen: float,
                       channels: np.ndarray) -> PhaseCost:
        """A zero-skipping forward GEMM: folds per PE-column group from the real mask;
        with ``balance = "sort"`` the sorted assignment too, with its cost, when faster."""
        p = self.params
        options = [("none", 0.0, 0.0)]
        if p.sparsity.balance == "sort":
            options.append(("sort", *zero_skipping.sort_cost(channels.shape[0],
                                                             p.update_lanes)))
        best = None
        for order, extra_cycles, extra_bytes in options:
            share = zero_skipping.skipped_fold_shares(channels, p.array.rows, p.array.cols,
                                                      order)
            cost = gemm_cost(shape, p.array, regen_values=regen, fold_weight_share=share,
                             fold_regen_share=share, fidelity=self.fidelity,
                             mapping=mapping, executed_folds=True)
            # The sort (on the PEs) runs before the GEMM; its permutation is read with B.
            time = cost.cycles + extra_cycles
            if best is None or time < best.cycles:
                best = PhaseCost(gemm, mapping, shape, regen, share, share, time,
                                 int(cost.compute_cycles + extra_cycles),
                                 executed_folds=True, sort_metadata_bytes=extra_bytes)
        return best

    def _reference_inputs(self, gemm: Gemm, phase: str, sizes: dict[str, int],
                          ref: int, zero: bool = False,
                          served: tuple = (False, False, False)) -> tuple:
        """(shape, regenerated values per group, fold weight share, fold regen share) of
        one group with the weight in reference state ``ref`` (-1: dense)."""
        p = self.params
        g = gemm.groups
        b_bytes = gemm.b.elements * sizes[gemm.b.role]
        regen, share, regen_share = 0.0, None, None
        if ref >= 0:
            state = self.tracker.references[ref]
            fetch = weight_fetch(gemm.b.elements, state.stored, p.weight_bytes, p.storage,
                                 "zero" if zero else self.fill, state.padding)
            b_bytes, regen = fetch.total_bytes, fetch.regen_values / g
            share, regen_share = state.shares()
        return self._shape(gemm, sizes, b_bytes / g, served), regen, share, regen_share

    def mapping_rows(self) -> dict[tuple[str, str], list[tuple[dict, float]]]:
        """Every GEMM layer-phase's mappings as results report them, most served first."""
        flow = self.params.array.flow
        out = {}
        for key, served in self.mappings.items():
            ranked = sorted(served.items(), key=lambda item: (-item[1], item[0].chunks,
                                                               not item[0].rows_outer))
            out[key] = [(flow.describe(mapping, self.mapping_roles[key]), steps)
                        for mapping, steps in ranked]
        return out

    # -- update ------------------------------------------------------------------------
    def _update_rows(self, steps: _Steps, tensor_ids) -> np.ndarray:
        """A streaming pass: read weights, gradients and state, write weights and state.

        Unstructured-sparse tensors (DropBack) touch only their stored weights' values,
        state and metadata; scoring every weight needs its initial value, regenerated.
        """
        p = self.params
        n = len(steps.step)
        rows = np.zeros((n, len(INDEX)))
        elements = np.zeros(n)
        for tid in tensor_ids:
            j = self.tracker.column[tid]
            info = self.header.tensor(tid)
            alive = steps.alive[:, j]
            structured = alive >= 0
            filters = self.filters.get(tid, 1)  # structure-mask entries (filters)
            numel = np.where(structured, info.numel * np.maximum(alive, 0) // filters,
                             info.numel)
            stored = np.where(structured, numel, steps.stored[:, j])
            padding = np.where(structured, 0, steps.padding[:, j])
            decayed = None if self.zero is None else self.zero[:, j] & ~structured
            fetch = zero_skipping.fetch_arrays(numel, stored, padding, p.weight_bytes,
                                               p.storage, self.fill, decayed)
            sparse = fetch["stored"] < numel
            state_bytes = np.where(sparse, fetch["stored"], numel) * p.state_bytes * \
                self.header.optimizer_state_per_weight
            rows[:, INDEX["dram_read_bytes.weights"]] += fetch["value_bytes"]
            rows[:, INDEX["dram_read_bytes.metadata"]] += fetch["metadata_bytes"]
            rows[:, INDEX["dram_write_bytes.weights"]] += fetch["value_bytes"]
            rows[:, INDEX["dram_write_bytes.metadata"]] += fetch["metadata_bytes"]
            rows[:, INDEX["dram_read_bytes.gradients"]] += numel * p.gradient_bytes
            rows[:, INDEX["dram_read_bytes.optimizer_state"]] += state_bytes
            rows[:, INDEX["dram_write_bytes.optimizer_state"]] += state_bytes
            # Scoring every weight by its displacement needs every initial value.
            # (Decayed to zero, the scaffold is 0: the score is |w|, nothing regenerated.)
            if self.fill == "regen":
                gone = decayed if decayed is not None else False
                rows[:, INDEX["regen_values"]] += np.where(sparse & ~gone, numel, 0)
            elements += numel
        moved = counter(rows, "dram_bytes")
        # The optimizer's arithmetic: on the PEs, or, when the captured graph's optimizer
        # ops run on the vector unit, counted there (its rows) and not twice.
        on_vector = any(op.phase == "update" for op in self.vector_ops)
        rows[:, INDEX["compute_cycles"]] = 0 if on_vector else \
            -(-elements // max(p.update_lanes, 1))
        # Everything the pass moves streams through SRAM, on chip or not.
        rows[:, INDEX["sram_read_bytes"]] = moved / 2
        rows[:, INDEX["sram_write_bytes"]] = moved / 2
        self._update_cycles(rows)
        return rows

    def _update_cycles(self, rows: np.ndarray) -> None:
        """An update pass's cycles: its compute, its DRAM transfer or its regeneration."""
        p = self.params
        regen = rows[:, INDEX["regen_values"]] / p.array.regen_lanes if p.has_regen else 0.0
        rows[:, INDEX["cycles"]] = np.maximum(np.maximum(
            rows[:, INDEX["compute_cycles"]],
            counter(rows, "dram_bytes") / p.array.dram_bytes_per_cycle), regen)

    def options(self) -> dict:
        """What was simulated and how much work the cycle references saved."""
        p = self.params
        out = {"pe_count": p.array.rows * p.array.cols}
        if p.sparsity is not None or self.zero is not None:
            out["zero_skipping"] = self.zero_skipping_summary()
        return {**out, "cycle_tolerance": self.tolerance, "residency": self.residency_summary,
                "vector": self.vector_summary(),
                "cycle_references": len(self.tracker.references),
                "cycle_reference_reuses": self.tracker.reused,
                "signatures": len(self._costs), "workload": self.workload_summary()}

    def zero_skipping_summary(self) -> dict:
        """What the array skipped and how (see accelsim.sim.sparsity)."""
        sp = self.params.sparsity
        decay = zero_skipping.init_decay_of(self.header.method_params)
        threshold = sp.zero_threshold if sp is not None else None
        zero_steps = None if self.zero is None else int(self.zero.any(axis=1).sum())
        all_zero = None if self.zero is None else int(self.zero.all(axis=1).sum())
        return {
            "skip": sp.skip if sp else "none", "format": sp.format if sp else None,
            "balance": sp.balance if sp else "none", "init_decay": decay,
            "zero_threshold": (f"{threshold[0]} {threshold[1]}" if threshold else
                               f"rounds to zero in {self.params.weight_dtype}"),
            "steps_with_decayed_zeros": zero_steps,
            "steps_every_tensor_decayed": all_zero,
            "cycles_from_mask": ("fwd" if self.skips_weights
                                 and self.params.array.flow.stationary == "b" else "none"),
            "cycles_dense_upper_bound": ["bwd_data"] if self.skips_weights else [],
            "activations": self._activation_note(),
        }

    def _activation_note(self) -> str:
        sp = self.params.sparsity
        if sp is None or not sp.skips_activations:
            return "not skipped"
        if not self.input_density:
            return ("not skipped: the trace records no ReLU output densities (record "
                    "--activation-density)")
        return ("MACs of zero input activations skipped in fwd and bwd_weight of "
                f"{', '.join(sorted(self.input_density))}, at the recorded density per "
                "layer-step (activation masks are not recorded, so their cycles stay dense: "
                "an upper bound)")

    def workload_summary(self) -> dict:
        return workload_summary(self.header, self.step_work)


class _Steps:
    """Per simulated step: stored count and padding per tensor, references per weight
    (fold by fold, totals only),
    live layers, live filters per tensor (-1: no structure mask) and training numbers."""

    def __init__(self, tensors: int, weighted: int):
        self.tensors, self.weighted = tensors, weighted
        self.step, self.live = [], []
        self._stored, self._padding, self._alive = [], [], []
        self._refs, self._total_refs = [], []
        self.training = {"stored_weights": [], "churn": [], "loss": [], "accuracy": []}
        self.densities: list = []  # recorded ReLU output densities per layer (or None)

    def add(self, record, tracker, refs, live_key, alive, churn) -> None:
        self.step.append(record.step)
        self._stored.append(tracker.stored.copy())
        self._padding.append(tracker.padding.copy())
        self._refs.append(refs[0])
        self._total_refs.append(refs[1])
        self._alive.append(alive)
        self.live.append(live_key)
        self.training["stored_weights"].append(int(tracker.stored.sum()))
        self.training["churn"].append(churn)
        self.training["loss"].append(float(record.loss))
        self.training["accuracy"].append(float(record.accuracy))

    def finish(self) -> _Steps:
        def stack(parts, width, dtype=np.int64):
            return np.array(parts, dtype=dtype).reshape(len(parts), width)

        self.stored = stack(self._stored, self.tensors)
        self.padding = stack(self._padding, self.tensors)
        self.refs = stack(self._refs, self.weighted)
        self.total_refs = stack(self._total_refs, self.weighted)
        self.alive = stack(self._alive, self.tensors)
        return self


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


def sample_steps(steps: np.ndarray, every: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(sampled steps, recorded steps each stands for): every ``every``-th step from the
    first; the last sample stands for the steps left to the end."""
    if every is None or every == 1:
        return steps, np.ones(steps.size)
    if every < 1:
        raise ConfigError(f"--every {every}: expected a positive number of steps")
    positions = np.arange(0, steps.size, every)
    covers = np.diff(np.append(positions, steps.size)).astype(np.float64)
    return steps[positions], covers


def replay(reader: TraceReader, params: SimParams, phases: Iterable[str] = PHASES,
           steps: str | None = None, progress: bool = False, fidelity: str = "fast",
           every: int | None = None, cycle_tolerance: float = DEFAULT_CYCLE_TOLERANCE,
           keep_rows: bool | None = None,
           work: dict[int, list[PhaseCost]] | None = None) -> SimResult:
    """Simulate the chosen steps of a trace; returns every counter per step/layer/phase.

    ``steps``: "A:B" (recorded steps A <= step < B); ``every``: simulate every N-th of
    them, each standing for the N around it (the estimated error is in
    ``options["sampling"]``); ``cycle_tolerance``: see :class:`Replay`; ``keep_rows``:
    keep the full (step, layer, phase) rows (None: while they are small); ``work``: a
    dict to fill with each simulated step's :class:`PhaseCost` records (timeline exports).
    """
    all_steps = np.asarray(reader.steps, dtype=np.int64)
    if all_steps.size == 0:
        raise ConfigError(f"{reader.path}: the trace holds no steps")
    selected = select_steps(all_steps, steps)
    sampled, covers = sample_steps(selected, every)
    last = int(sampled[-1])

    def records():
        for record in reader.iter_changes():
            yield record
            if record.step >= last:  # steps are in order: nothing more to decode
                return

    return replay_records(reader.header, records(), params, phases, steps, reader.path,
                          progress=progress, count=int(np.searchsorted(all_steps, last)) + 1,
                          fidelity=fidelity, chosen=sampled, covers=covers, every=every,
                          cycle_tolerance=cycle_tolerance, keep_rows=keep_rows, work=work)


def replay_records(header: TraceHeader, records: Iterable[StepRecord], params: SimParams,
                   phases: Iterable[str] = PHASES, steps: str | None = None,
                   source: str = "", progress: bool = False,
                   count: int | None = None, fidelity: str = "fast",
                   chosen: np.ndarray | None = None, covers: np.ndarray | None = None,
                   every: int | None = None,
                   cycle_tolerance: float = DEFAULT_CYCLE_TOLERANCE,
                   keep_rows: bool | None = None,
                   work: dict[int, list[PhaseCost]] | None = None) -> SimResult:
    """Simulate step records (deltas, or full ``stored_masks``) in order.

    ``chosen``: the steps to simulate (None: all); ``covers``: recorded steps each chosen
    one stands for (sampling; None: 1 each).
    """
    engine = Replay(header, params, phases, fidelity, cycle_tolerance)
    engine.work = work
    followed = engine.follow(records, None if chosen is None else set(int(s) for s in chosen),
                             progress=progress, count=count, source=source)
    n = len(followed.step)
    if n == 0:
        raise ConfigError(f"{source or header.net}: no step to simulate")
    covers = np.ones(n) if covers is None else np.asarray(covers, dtype=np.float64)
    weights = covers * float(header.record_every)
    if keep_rows is None:
        keep_rows = n * len(engine.layer_names) * len(engine.phases) <= KEEP_ROWS_LIMIT
    rows, layer_rows, step_rows = engine.counters(followed, weights, keep_rows)
    evaluated = [a for a in followed.training["accuracy"] if np.isfinite(a)]
    low, high = engine.regen_cost_range
    options = {"fidelity": fidelity, "phases": engine.phases, "steps": steps or "all",
               **engine.options(),
               "mapping_regen_cost": params.array.regen_byte_cost,
               "mapping_regen_cost_range": [None if np.isinf(low) else float(low),
                                            None if np.isinf(high) else float(high)]}
    result = SimResult(
        trace={"path": source, "net": header.net, "method": header.method,
               "method_params": header.method_params, "dataset": header.dataset,
               "batch_size": header.batch_size, "params_total": header.params_total,
               "record_every": header.record_every,
               "final_accuracy": evaluated[-1] if evaluated else None,
               # How it trained, so reports label runs without the trace file.
               "optimizer": header.optimizer, "optimizer_params": header.optimizer_params,
               "extra": header.extra},
        hardware={"name": params.name},
        layers=engine.layer_names, phases=engine.phases,
        steps=np.asarray(followed.step, dtype=np.int64), step_weight=weights, rows=rows,
        layer_rows=layer_rows, step_rows=step_rows,
        training=followed.training, options=options, mappings=engine.mapping_rows(),
    )
    price_result(result, params.prices)
    if every is not None and every > 1:
        options["sampling"] = {
            "every": int(every), "sampled": n, "covered": int(covers.sum()),
            "relative_standard_error": sampling_error(result.step_rows, covers)}
    return result
