"""On-chip residency over a training step: which tensors stay in SRAM between their uses.

The step runs its GEMM layers' ops in training order (forward first to last, the loss,
backward last to first, the update; :func:`step_ops`). Every tensor — a layer's output
activation (also stashed for its consumer's weight gradient), an activation gradient, a
weight gradient, the weights and the optimizer state — is cut into **segments**, one
between each pair of consecutive uses; weights and optimizer state also have one that
wraps from this step's update to the next step's use. A resident segment keeps the tensor
in SRAM between those two uses, so the use that ends it reads the tensor on chip; a
tensor is written to DRAM once if any of its segments is not resident, and each use after
a non-resident segment reads it from DRAM. What comes from outside the step (the input
batch, inputs whose producer is not the previous GEMM layer) is read from DRAM at its
first use.

**Policy ``nearest_use``** (the default): segments are ranked by how soon the tensor is
used again — fewer ops between the two uses first (ties: fewer bytes, then earlier) —
and a segment is resident when, at every op it spans (both ends included), the op's own
tile reserve plus every higher-ranked segment live there plus this one fit in the SRAM.
Higher-ranked segments count whether or not they are resident themselves, which makes the
rule conservative and monotone: a segment resident at one capacity is resident at any
larger one (more SRAM never moves more DRAM bytes), and the resident segments never
exceed the capacity at any op. An op's **tile reserve** is what its own streaming needs:
its operands' bytes (twice with double buffering), at most the whole SRAM — a layer too
big for the SRAM leaves no room for anything to stay across it. **Policy ``none``**
keeps nothing: every operand goes through DRAM (SCALE-Sim's model, and accelsim's before
residency).

Capacity is the SRAM's total (``Sram.total_capacity_bytes``); with per-operand buffers
that treats the three as one pool, which is optimistic for a design that cannot place an
activation in the filter buffer. Work the graph (format 1.2) adds beyond the GEMM layers'
chain, and non-GEMM ops, keep their DRAM round trips.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

RESIDENCY_POLICIES = ("nearest_use", "none")
LOSS = "loss"
OUTPUT_SLOTS = ("o", "weights_write", "state_write")


@dataclass(frozen=True)
class Op:
    """One op of the step: a layer's phase (``layer`` indexes the GEMM layers; for
    ``update`` it indexes the update passes) or the loss."""

    phase: str
    layer: int = -1


@dataclass
class Tensor:
    """A tensor's uses in op order: (op index, operand slot) — slot ``a``/``b``/``o`` of a
    GEMM, or an update pass's ``weights``/``gradients``/``state``."""

    name: str
    bytes: float
    uses: list[tuple[int, str]] = field(default_factory=list)
    external: bool = False  # produced outside the step's ops: its first use reads DRAM
    wraps: bool = False  # lives on into the next step (weights, optimizer state)


@dataclass(frozen=True)
class Segment:
    tensor: int
    start: int
    end: int  # op index; <= start for a segment that wraps into the next step
    bytes: float

    def spans(self, ops: int) -> list[int]:
        if self.end > self.start:
            return list(range(self.start, self.end + 1))
        if self.end == self.start:  # used at one op each step: held the whole step
            return list(range(ops))
        return [*range(self.start, ops), *range(0, self.end + 1)]


@dataclass
class ResidencyPlan:
    """Which operand of which op is served on chip: ``on_chip[(op, slot)]`` is True when
    that use reads its tensor from SRAM (an input) or need not write it to DRAM (an
    output)."""

    ops: list[Op]
    on_chip: dict[tuple[int, str], bool]
    resident_segments: int = 0
    segments: int = 0
    resident_bytes_peak: float = 0.0
    held_bytes: list[float] = field(default_factory=list)  # resident bytes at each op
    # every segment's bytes (resident or not) plus the op's tile reserve, at each op:
    # what a tensor outside the plan must fit beside (independent of the capacity)
    demand_bytes: list[float] = field(default_factory=list)

    def __post_init__(self):
        self._index = {(op.phase, op.layer): k for k, op in enumerate(self.ops)}

    def index(self, phase: str, layer: int = -1) -> int | None:
        """The op index of ``phase`` of ``layer`` (None when the step has no such op)."""
        return self._index.get((phase, layer))

    def served(self, op: int, slot: str) -> bool:
        return self.on_chip.get((op, slot), False)

    def summary(self, policy: str) -> dict:
        return {"policy": policy, "segments": self.segments,
                "resident_segments": self.resident_segments,
                "resident_bytes_peak": self.resident_bytes_peak}


def step_ops(layers: int, bwd_data: list[bool], updates: int) -> list[Op]:
    """Forward first to last, the loss, backward last to first, the updates in order."""
    ops = [Op("fwd", i) for i in range(layers)] + [Op(LOSS)]
    for i in reversed(range(layers)):
        if bwd_data[i]:
            ops.append(Op("bwd_data", i))
        ops.append(Op("bwd_weight", i))
    return ops + [Op("update", u) for u in range(updates)]


def plan(tensors: list[Tensor], ops: list[Op], reserve: list[float], capacity: float,
         policy: str) -> ResidencyPlan:
    """Decide every segment of ``tensors`` under ``policy`` (see the module docstring);
    ``reserve``: each op's tile reserve in bytes."""
    segments = []
    for ti, tensor in enumerate(tensors):
        at = sorted({op for op, _ in tensor.uses})
        for start, end in zip(at, at[1:], strict=False):
            segments.append(Segment(ti, start, end, tensor.bytes))
        if tensor.wraps and at:
            segments.append(Segment(ti, at[-1], at[0], tensor.bytes))
    resident: set[Segment] = set()
    live = [0.0] * len(ops)  # bytes of higher-ranked segments live at each op
    held = [0.0] * len(ops)  # bytes of resident segments live at each op
    n = len(ops)
    if policy != "none":
        ranked = sorted(segments, key=lambda s: (len(s.spans(n)), s.bytes, s.start, s.tensor))
        for segment in ranked:
            spans = segment.spans(n)
            need = max(min(capacity, reserve[g]) + live[g] for g in spans) + segment.bytes
            if need <= capacity and segment.bytes > 0:
                resident.add(segment)
                for g in spans:
                    held[g] += segment.bytes
            for g in spans:
                live[g] += segment.bytes
    on_chip: dict[tuple[int, str], bool] = {}
    by_tensor: dict[int, list[Segment]] = {}
    for segment in segments:
        by_tensor.setdefault(segment.tensor, []).append(segment)
    for ti, tensor in enumerate(tensors):
        mine = by_tensor.get(ti, [])
        ended = {s.end for s in mine if s in resident}
        all_resident = bool(mine) and all(s in resident for s in mine)
        first = min((op for op, _ in tensor.uses), default=-1)
        for op, slot in tensor.uses:
            if slot.split(":")[0] in OUTPUT_SLOTS:  # "o", or "o:<tag>" to tell apart
                # An output: no DRAM write when every segment stays on chip.
                on_chip[(op, slot)] = all_resident and not tensor.external
            elif op == first and not tensor.wraps:
                on_chip[(op, slot)] = False  # produced outside the step: read from DRAM
            else:
                on_chip[(op, slot)] = op in ended
    demand = [min(capacity, reserve[g]) + live[g] for g in range(n)]
    if policy == "none":
        demand = [math.inf] * n
    return ResidencyPlan(ops, on_chip, len(resident), len(segments),
                         max(held) if held else 0.0, held, demand)
