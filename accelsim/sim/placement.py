"""Where a step's DRAM traffic goes: tensors placed in a byte address space, and the
replay's byte counters turned into burst requests with arrival times.

Every tensor a training step moves gets a region, each starting on an ``ALIGN_BYTES``
boundary, in this order: parameter tensors (header order), layer activations, their
gradients, weight gradients, optimizer state. A parameter tensor's region holds its
stored values and, right behind them, its metadata (bitmap or index list) as the
storage format lays them out (``compact``); weights the replay regenerates or that are
not stored are not in it and issue no request. The ``scattered`` layout leaves each
stored value at its dense position (no compaction), so fetching the stored values
gathers the bursts that hold them; the index list then sits after the dense values.

The replay's per-(step, layer, phase) counters (``dram_read_bytes.<operand>``,
``dram_write_bytes.<operand>``) say how many bytes move; the lowering says which tensor
each operand is in that phase (fwd reads inputs and weights and writes outputs; bwd_data
reads output gradients and weights and writes input gradients; bwd_weight reads inputs
and output gradients and writes weight gradients; update reads and writes every
parameter's values, metadata and state and reads its gradient). Partial sums spilled to
DRAM are read back from the output's region. Bytes beyond a region's size (capacity
refetches) read it again from the start. A fraction of a byte counts as a whole byte.

Arrival times (an approximation: the replay gives each layer-phase's cycles, not when
within them each tile moves): layer-phases run one after another in training order — fwd
for every layer, then bwd_data and bwd_weight from the last layer back to the first,
then update — each lasting its ``cycles`` counter converted from the array clock to
the DRAM clock (``cycles / array.clock / dram.tCK``). Within a layer-phase every
(operand, direction) stream keeps its own address order and the streams are
interleaved in proportion to their burst counts, all spread evenly over its duration.
No burst is read and written in the same cycle (``separate_read_write``: the update
pass's write-back of a burst goes a cycle after its read).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from accelsim.errors import ConfigError
from accelsim.hw import Hardware
from accelsim.sim.dram import STREAM_NAMES, bursts_for_extents
from accelsim.sim.lowering import (
    PHASES,
    GemmLayer,
    Operand,
    gemm_layers,
    input_sources,
    lower,
    update_passes,
)
from accelsim.sim.results import INDEX, TRAFFIC_CLASSES
from accelsim.sim.storage import fill_rule, weight_fetch
from accelsim.sim.workload import require_layer_work_only
from accelsim.trace import StepRecord, TraceHeader
from accelsim.trace.methods import method_meaning

LAYOUTS = ("compact", "scattered")
DIRECTIONS = ("read", "write")
# Regions start on a 4 KiB boundary: a page, as a DMA buffer allocator would give; the
# presets' rows are 1-8 KiB, so a region never shares its first row with another.
ALIGN_BYTES = 4096
STREAM_IDS = {name: i for i, name in enumerate(STREAM_NAMES)}
OPERAND_STREAM = {"weights": "weights", "metadata": "metadata", "inputs": "activations",
                  "outputs": "activations", "gradients": "gradients",
                  "optimizer_state": "optimizer_state"}
BACKWARD_PHASES = ("bwd_data", "bwd_weight")


@dataclass(frozen=True)
class Region:
    """A tensor's place in the address space: ``capacity_bytes`` from ``start``."""

    name: str
    start: int
    capacity_bytes: int


@dataclass(frozen=True)
class Piece:
    """Extents that hold ``counted_bytes`` of the replay's counter (one pass over them).

    A compact piece is one extent whose length is its counted bytes; a scattered one is
    the bursts that hold a tensor's stored values, counted as its compact values.
    """

    starts: np.ndarray  # uint64
    lengths: np.ndarray  # uint64
    counted_bytes: int

    @classmethod
    def extent(cls, start: int, length: int) -> Piece:
        return cls(np.array([start], dtype=np.uint64), np.array([length], dtype=np.uint64),
                   int(length))

    def head(self, nbytes: int) -> Piece:
        """The first ``nbytes`` of the piece's counted bytes (a partial pass)."""
        if nbytes >= self.counted_bytes:
            return self
        if self.starts.size == 1 and int(self.lengths[0]) == self.counted_bytes:
            return Piece.extent(int(self.starts[0]), nbytes)
        keep = math.ceil(nbytes / self.counted_bytes * self.starts.size)
        return Piece(self.starts[:keep], self.lengths[:keep], nbytes)


@dataclass(frozen=True)
class TensorStep:
    """One parameter tensor at one step: the bytes its storage format moves per pass."""

    value_bytes: int
    metadata_bytes: int
    state_bytes: int
    stored_indices: np.ndarray | None  # flat indices of an unstructured stored set, else None


@dataclass(frozen=True)
class Group:
    """One (layer, phase, operand, direction) stream of a step and the bytes it moves."""

    layer: str
    phase: str
    operand: str
    direction: str
    counter_bytes: int  # the replay's counter rounded up to whole bytes
    stream: int
    position: int  # the layer-phase's place in execution order


@dataclass(frozen=True)
class StepRequests:
    """A step's burst requests in arrival order, with the extents they were made from."""

    step: int
    addresses: np.ndarray  # uint64 burst addresses
    is_write: np.ndarray  # bool
    arrival: np.ndarray  # int64, DRAM clock cycles from the step's start; non-decreasing
    stream: np.ndarray  # uint8, STREAM_NAMES ids
    group: np.ndarray  # int64 per request: index into ``groups``
    groups: list[Group]
    extent_starts: np.ndarray  # uint64, group by group
    extent_lengths: np.ndarray  # uint64
    extent_group: np.ndarray  # int64
    duration_cycles: float  # the replay's step duration in DRAM cycles

    def __len__(self) -> int:
        return int(self.addresses.shape[0])


class Placement:
    """The address space of one trace's tensors on one (timed) DRAM description."""

    def __init__(self, header: TraceHeader, hw: Hardware, layout: str = "compact"):
        if layout not in LAYOUTS:
            raise ConfigError(f"unknown weight layout {layout!r}; choose {' or '.join(LAYOUTS)}")
        if hw.dram.is_ideal:
            raise ConfigError(f'{hw.name}: dram.standard "ideal" has no bursts, banks or '
                              "timing, so DRAM requests cannot be placed; pick a timed standard "
                              '(e.g. "lpddr4-3200") or keep the bandwidth model')
        require_layer_work_only(header, "DRAM request placement (--dram burst, export)")
        self.header, self.layout = header, layout
        self.burst_bytes = hw.dram.burst_bytes
        self.storage = hw.storage
        dtypes = hw.dtypes
        self.value_size, self.state_size = dtypes.weights_bytes, dtypes.optimizer_state_bytes
        # DRAM clock cycles per array clock cycle.
        self.dram_cycles_per_cycle = 1.0 / (hw.array.clock_hz * hw.dram.tck_s)
        # What stands in for a weight that is not stored (the replay's rule).
        self.fill = fill_rule(method_meaning(header.method), hw.regen is not None)
        self.gemm = {layer.name: layer for layer in gemm_layers(header)}
        # Each GEMM phase lowered once: the operands every request stream is placed by.
        self.lowered = {(layer.name, phase): lower(layer, phase)
                        for layer in self.gemm.values() for phase in PHASES}
        self.updates = {update.layer: update for update in update_passes(header)}
        self.regions: dict[str, Region] = {}
        self._end = 0
        self._place(dtypes)

    # -- the address space -------------------------------------------------------------
    def _allocate(self, name: str, size: int) -> Region:
        start = -(-self._end // ALIGN_BYTES) * ALIGN_BYTES
        region = Region(name, start, int(size))
        self.regions[name] = region
        self._end = start + int(size)
        return region

    def _place(self, dtypes) -> None:
        header = self.header
        per_weight = header.optimizer_state_per_weight
        scattered = self.layout == "scattered"
        for info in header.tensors:
            dense_bytes = info.numel * self.value_size
            # Compact: values and metadata never exceed the dense values (else the tensor
            # is kept dense). Scattered: dense values, then the index list behind them.
            self._allocate(f"weights/{info.tensor_id}", dense_bytes * (2 if scattered else 1))
        # Activations and their gradients: a layer's input is the previous GEMM layer's
        # output when it is that very tensor (lowering.input_sources: norm and activation
        # layers between are fused).
        act, grad = dtypes.activations_bytes, dtypes.gradients_bytes
        self.act_in, self.act_out, self.grad_in, self.grad_out = {}, {}, {}, {}
        layers = list(self.gemm.values())
        for layer, source in zip(layers, input_sources(layers), strict=True):
            inputs, outputs = layer.batch * layer.in_elements, layer.batch * layer.out_elements
            if source.same_tensor:
                previous = source.previous
                self.act_in[layer.name] = self.act_out[previous.name]
                self.grad_in[layer.name] = self.grad_out[previous.name]
            else:
                self.act_in[layer.name] = self._allocate(f"activations/{layer.name}.in",
                                                         inputs * act)
                self.grad_in[layer.name] = self._allocate(f"gradients/{layer.name}.in",
                                                          inputs * grad)
            self.act_out[layer.name] = self._allocate(f"activations/{layer.name}.out",
                                                      outputs * act)
            self.grad_out[layer.name] = self._allocate(f"gradients/{layer.name}.out",
                                                       outputs * grad)
        for info in header.tensors:
            self._allocate(f"weight_gradients/{info.tensor_id}", info.numel * grad)
        if per_weight:
            for info in header.tensors:
                self._allocate(f"optimizer_state/{info.tensor_id}",
                               info.numel * self.state_size * per_weight)

    @property
    def size_bytes(self) -> int:
        """End of the last region: the address space the step touches at most."""
        return self._end

    # -- one step ----------------------------------------------------------------------
    def tensor_steps(self, record: StepRecord) -> dict[int, TensorStep]:
        """Each parameter tensor's bytes at this step (``record`` with full stored masks)."""
        out = {}
        per_weight = self.header.optimizer_state_per_weight
        for info in self.header.tensors:
            tid, numel = info.tensor_id, info.numel
            structure = record.structure_masks.get(tid)
            mask = record.stored_masks.get(tid)
            indices = None
            if structure is not None and structure.size:
                live = numel * int(np.count_nonzero(structure)) // structure.size
                values, metadata, stored = live * self.value_size, 0, live
            else:
                stored = numel if mask is None else int(np.count_nonzero(mask))
                values, metadata = numel * self.value_size, 0
                if stored < numel:
                    indices = np.flatnonzero(mask)
                    fetch = weight_fetch(numel, stored, self.value_size, self.storage, self.fill,
                                         self.storage.padding_entries(indices))
                    values, metadata = int(fetch.value_bytes), int(fetch.metadata_bytes)
                    if fetch.stored >= numel:
                        indices, stored = None, numel  # kept dense
            out[tid] = TensorStep(values, metadata, stored * self.state_size * per_weight,
                                  indices)
        return out

    def _value_piece(self, tid: int, tensor: TensorStep) -> Piece:
        region = self.regions[f"weights/{tid}"]
        if self.layout == "compact" or tensor.stored_indices is None:
            return Piece.extent(region.start, tensor.value_bytes)
        # Scattered: the bursts holding the stored values, gathered in index order.
        size, burst = np.uint64(self.value_size), np.uint64(self.burst_bytes)
        first = (np.uint64(region.start) + tensor.stored_indices.astype(np.uint64) * size)
        bursts = np.unique(np.concatenate((first // burst,
                                           (first + size - np.uint64(1)) // burst)))
        return Piece(bursts * burst, np.full(bursts.size, burst, dtype=np.uint64),
                     tensor.value_bytes)

    def _metadata_piece(self, tid: int, tensor: TensorStep) -> Piece:
        region = self.regions[f"weights/{tid}"]
        offset = (tensor.value_bytes if self.layout == "compact"
                  else region.capacity_bytes // 2)
        return Piece.extent(region.start + offset, tensor.metadata_bytes)

    def _weight_pieces(self, tids: Sequence[int], operand: str,
                       tensors: dict[int, TensorStep]) -> list[Piece]:
        make = self._value_piece if operand == "weights" else self._metadata_piece
        pieces = [make(tid, tensors[tid]) for tid in tids]
        return [piece for piece in pieces if piece.counted_bytes > 0]

    def _role_pieces(self, layer: GemmLayer, role: str, traffic: str,
                     tensors: dict[int, TensorStep]) -> list[Piece]:
        if role == "weights":
            return self._weight_pieces([layer.weight_tensor], traffic, tensors)
        if role == "grad_weights":
            region = self.regions[f"weight_gradients/{layer.weight_tensor}"]
        else:
            region = {"inputs": self.act_in, "outputs": self.act_out,
                      "grad_outputs": self.grad_out, "grad_inputs": self.grad_in}[role][layer.name]
        return [Piece.extent(region.start, region.capacity_bytes)]

    def _sources(self, layer_name: str, phase: str, operand: str, direction: str,
                 counters: np.ndarray, tensors: dict[int, TensorStep]
                 ) -> list[tuple[list[Piece], float]]:
        """Where the counter's bytes come from: (pieces, bytes) pairs."""
        total = counters[INDEX[f"dram_{direction}_bytes.{operand}"]]
        if phase == "update":
            update = self.updates[layer_name]
            tids = update.tensor_ids
            if not update.moves(operand, direction):
                return [([], total)]
            if operand in ("weights", "metadata"):
                return [(self._weight_pieces(tids, operand, tensors), total)]
            if operand == "optimizer_state":
                return [([Piece.extent(self.regions[f"optimizer_state/{tid}"].start,
                                       tensors[tid].state_bytes) for tid in tids
                          if tensors[tid].state_bytes], total)]
            regions = [self.regions[f"weight_gradients/{tid}"] for tid in tids]
            return [([Piece.extent(r.start, r.capacity_bytes) for r in regions], total)]
        layer = self.gemm.get(layer_name)
        gemm = self.lowered.get((layer_name, phase))
        if gemm is None:
            return [([], total)]

        def carries(op: Operand) -> bool:
            return op.traffic == operand or (operand == "metadata" and op.is_weight)

        if direction == "write":
            pieces = self._role_pieces(layer, gemm.o.role, operand, tensors) \
                if carries(gemm.o) else []
            return [(pieces, total)]
        # Reads: the A or B operand, plus spilled partial sums read back from the output.
        spill = counters[INDEX["psum_spill_bytes"]] / 2 if gemm.o.traffic == operand else 0.0
        spill = min(spill, total)
        sources = []
        inputs = [op for op in (gemm.a, gemm.b) if carries(op)]
        if inputs:
            sources.append((self._role_pieces(layer, inputs[0].role, operand, tensors),
                            total - spill))
        else:
            spill = total
        if spill > 0:
            sources.append((self._role_pieces(layer, gemm.o.role, operand, tensors), spill))
        return sources

    def step_requests(self, rows: np.ndarray, layers: Sequence[str], phases: Sequence[str],
                      record: StepRecord) -> StepRequests:
        """The burst requests of one step: ``rows`` (layers x phases x counters) of the
        step as the replay counted them, ``record`` its trace record with stored masks."""
        tensors = self.tensor_steps(record)
        groups: list[Group] = []
        starts, lengths, owners = [], [], []
        durations = []
        for position, (li, pi) in enumerate(execution_order(layers, phases)):
            counters = rows[li, pi]
            durations.append(counters[INDEX["cycles"]] * self.dram_cycles_per_cycle)
            for operand in TRAFFIC_CLASSES:
                for direction in DIRECTIONS:
                    counter = counters[INDEX[f"dram_{direction}_bytes.{operand}"]]
                    if counter <= 0:
                        continue
                    group = Group(layers[li], phases[pi], operand, direction,
                                  whole_bytes(counter), STREAM_IDS[OPERAND_STREAM[operand]],
                                  position)
                    for pieces, nbytes in self._sources(layers[li], phases[pi], operand,
                                                        direction, counters, tensors):
                        for piece in cover(pieces, whole_bytes(nbytes), group):
                            starts.append(piece.starts)
                            lengths.append(piece.lengths)
                            owners.append(np.full(piece.starts.size, len(groups), np.int64))
                    groups.append(group)
        return self._requests(int(record.step), groups, starts, lengths, owners, durations)

    def _requests(self, step, groups, starts, lengths, owners, durations) -> StepRequests:
        def join(parts, dtype):
            return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)

        extent_starts, extent_lengths = join(starts, np.uint64), join(lengths, np.uint64)
        extent_group = join(owners, np.int64)
        addresses, extent = bursts_for_extents(extent_starts, extent_lengths, self.burst_bytes)
        group = extent_group[extent]
        # Each group's bursts keep their order and are spread evenly over its layer-phase;
        # the groups of a layer-phase interleave in proportion to their burst counts.
        counts = np.bincount(group, minlength=len(groups))
        first = np.cumsum(counts) - counts
        share = (np.arange(group.size) - first[group] + 0.5) / np.maximum(counts[group], 1)
        position = np.array([g.position for g in groups], dtype=np.int64)[group]
        order = np.lexsort((share, position))
        duration = np.asarray(durations, dtype=np.float64)
        begin = np.cumsum(duration) - duration
        arrival = np.floor(begin[position] + share * duration[position]).astype(np.int64)
        streams = np.array([g.stream for g in groups], dtype=np.uint8)
        writes = np.array([g.direction == "write" for g in groups], dtype=bool)
        group = group[order]
        addresses, arrival = addresses[order], arrival[order]
        later, arrival = separate_read_write(addresses, writes[group], arrival)
        group = group[later]
        return StepRequests(
            step=step, addresses=addresses[later], is_write=writes[group],
            arrival=arrival, stream=streams[group], group=group, groups=groups,
            extent_starts=extent_starts, extent_lengths=extent_lengths,
            extent_group=extent_group, duration_cycles=float(duration.sum()))


def separate_read_write(addresses: np.ndarray, is_write: np.ndarray,
                        arrival: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Never a read and a write of one burst in the same cycle: (order, arrival).

    ``addresses``, ``is_write`` and ``arrival`` are requests in arrival order. Where
    requests of one address share a cycle, the first one's direction keeps it and those
    of the other direction move to the next cycle (the update pass reads a burst, then
    writes it back: the write goes one cycle later), repeated until no cycle holds both.
    Returns the permutation that puts the requests back in arrival order (stable: moved
    requests go ahead of the ones already in their new cycle) and the new arrivals.
    DRAMsim3's split-queue controller stalls for good on a same-cycle read/write pair.
    """
    arrival = arrival.copy()
    n = arrival.shape[0]
    moved = False
    while n > 1:
        by_slot = np.lexsort((addresses, arrival))  # stable: ties keep arrival order
        slot_arrival, slot_address = arrival[by_slot], addresses[by_slot]
        same = np.empty(n, dtype=bool)  # same (cycle, address) as the entry before
        same[0] = False
        same[1:] = (slot_arrival[1:] == slot_arrival[:-1]) & \
            (slot_address[1:] == slot_address[:-1])
        first = np.maximum.accumulate(np.where(same, 0, np.arange(n)))
        write = is_write[by_slot]
        clash = same & (write != write[first])
        if not clash.any():
            break
        arrival[by_slot[clash]] += 1
        moved = True
    if not moved:
        return np.arange(n), arrival
    order = np.argsort(arrival, kind="stable")
    return order, arrival[order]


def execution_order(layers: Sequence[str], phases: Sequence[str]) -> list[tuple[int, int]]:
    """(layer index, phase index) in training order: fwd first to last layer, bwd_data and
    bwd_weight last to first, then update first to last."""
    index = {phase: i for i, phase in enumerate(phases)}
    order = [(li, index["fwd"]) for li in range(len(layers)) if "fwd" in index]
    for li in reversed(range(len(layers))):
        order += [(li, index[phase]) for phase in BACKWARD_PHASES if phase in index]
    order += [(li, index["update"]) for li in range(len(layers)) if "update" in index]
    return order


def whole_bytes(counter: float) -> int:
    """A counter's bytes as whole bytes: a fraction of a byte still moves a byte."""
    return max(0, math.ceil(counter - 1e-6))


def cover(pieces: list[Piece], nbytes: int, group: Group) -> list[Piece]:
    """Pieces moving ``nbytes``: whole passes over ``pieces``, then the head of one more."""
    if nbytes == 0:
        return []
    size = sum(piece.counted_bytes for piece in pieces)
    if size == 0:
        raise ValueError(f"placement: {nbytes} bytes of {group.operand} {group.direction} in "
                         f"layer {group.layer!r} phase {group.phase} have no tensor to go to")
    passes, rest = divmod(nbytes, size)
    out = pieces * passes
    for piece in pieces:
        if rest <= 0:
            break
        out.append(piece.head(rest))
        rest -= min(rest, piece.counted_bytes)
    return out
