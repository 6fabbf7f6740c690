"""Traffic and cycles of one GEMM on a systolic array with three double-buffered SRAMs.

The array (R rows x C cols) holds a *stationary* block of one operand and streams a
third dimension through it (SCALE-Sim's mapping); the dataflows are classes in
accelsim.sim.dataflow.

Compute cycles per fold are SCALE-Sim's ``2R + C + T - 2`` for ws and is (weight or input
preload, skew, stream, drain) and ``R + C + T - 2`` for os (nothing to preload), minus one
overall. To fit the buffers the streamed dimension may be cut into chunks of
length t (each chunk pays the fill again), and the two fold loops may run in either
order. For each non-stationary operand the model asks one question — does the data it
must keep between reuses fit in its buffer's working half? — and charges one DRAM read
of it if so, one per reuse if not (a *capacity refetch*). Partial sums that cannot stay
on chip between reduction folds are spilled and read back. The mapping with the fewest
DRAM bytes wins (ties: the fewest chunks). Every operand is at least read (or written)
once: its *compulsory* traffic, the real tensor's size, never the im2col duplication.

Cycles: each tile (fold x chunk) costs the slowest of its compute, its DRAM transfer at
the description's bandwidth and its weight regeneration on the regen lanes; double
buffering overlaps the three, plus the first tile's load (fill) and last tile's write
(drain).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from accelsim.sim.dataflow import DATAFLOWS, Dataflow, Mapping
from accelsim.sim.event import event_cycles
from accelsim.sim.pipeline import (
    TileSchedule,
    fold_pipeline_cycles_kernel,
    tile_schedule_kernel,
)


@dataclass(frozen=True)
class ArrayConfig:
    """What the cost model needs of the hardware, in plain numbers."""

    rows: int
    cols: int
    dataflow: str
    a_buffer_bytes: float  # working (double-buffered: half) capacity for operand A
    b_buffer_bytes: float
    o_buffer_bytes: float
    dram_bytes_per_cycle: float
    regen_lanes: int  # 0: no regeneration unit
    tiling: bool = True  # False: stream whole folds, never chunk (SCALE-Sim's mapping)
    regen_byte_cost: float = 0.0  # one regenerated value, in DRAM-byte equivalents

    @property
    def flow(self) -> Dataflow:
        return DATAFLOWS[self.dataflow]

    def folds(self, shape: GemmShape) -> tuple[int, int, int]:
        """(row folds, column folds, streamed length) of one group of ``shape``."""
        return self.flow.folds(shape.m, shape.k, shape.n, self.rows, self.cols)


@dataclass(frozen=True)
class GemmShape:
    """m x k x n (x groups) with the compulsory bytes of each operand (one group)."""

    m: int
    k: int
    n: int
    groups: int
    a_bytes: float
    b_bytes: float  # what B costs to fetch once (for weights: values + metadata)
    o_bytes: float
    psum_bytes: float  # bytes of all partial sums of O (one per output element)
    # On-chip size of B: weights sit in SRAM as plain values whatever their DRAM format
    # (regenerated ones included). None: the same as b_bytes.
    b_footprint_bytes: float | None = None

    @property
    def b_held(self) -> float:
        return self.b_bytes if self.b_footprint_bytes is None else self.b_footprint_bytes


@dataclass
class GemmCost:
    """Counters of one GEMM (all groups)."""

    compute_cycles: int
    cycles: float
    a_read_bytes: float
    b_read_bytes: float
    o_write_bytes: float
    a_refetch_bytes: float
    b_refetch_bytes: float
    psum_spill_bytes: float  # written and read back again (counted in both directions)
    b_fetches: int  # how many times B is fetched whole (regen work scales with it)
    mapping: Mapping

    @property
    def chunks(self) -> int:
        return self.mapping.chunks


MAX_CHUNKS = 256  # finer cuts only multiply the fills; 256 leaves a 2^8 capacity range


def _chunk_candidates(length: int) -> list[int]:
    """1, 2, 4, ... chunks, at most MAX_CHUNKS and never shorter than one element."""
    out, chunks = [], 1
    while chunks <= min(max(length, 1), MAX_CHUNKS):
        out.append(chunks)
        chunks *= 2
    return out


def mapping_candidates(shape: GemmShape, cfg: ArrayConfig) -> list[Mapping]:
    """Every mapping the mapper considers, in tie-breaking order."""
    _, _, stream = cfg.folds(shape)
    chunk_counts = _chunk_candidates(stream) if cfg.tiling else [1]
    return [Mapping(chunks, rows_outer) for chunks in chunk_counts
            for rows_outer in (True, False)]


def mapping_traffic(shape: GemmShape, cfg: ArrayConfig, mapping: Mapping) -> tuple:
    """(A reads, B reads, O writes, psum spill) of one mapping. ``shape.b_bytes`` may be
    an array (one entry per step): B's traffic is linear in it, the rest does not see it."""
    return cfg.flow.traffic(shape, cfg, mapping)


@dataclass(frozen=True)
class MappingChoice:
    """The mapper's answer for every entry of ``shape.b_bytes``: an index into
    ``candidates`` per entry, and the range of ``cfg.regen_byte_cost`` (the price ratio
    the objective weighs regeneration by) within which every answer stays the same."""

    index: np.ndarray
    candidates: list[Mapping]
    regen_cost_range: tuple[float, float]


def choose_mappings(shape: GemmShape, cfg: ArrayConfig,
                    regen_values: np.ndarray | float = 0.0,
                    pinned: Mapping | None = None) -> MappingChoice:
    """The cheapest mapping per entry of ``shape.b_bytes`` (scalar or array): the fewest
    DRAM bytes, where every fetch of B also regenerates ``regen_values`` weights, each
    weighed as ``cfg.regen_byte_cost`` DRAM bytes (its energy relative to a DRAM byte's),
    so a mapping does not trade cheap compressed refetches for repeated regeneration.
    Ties go to the earlier candidate (fewer chunks, rows outer first). ``pinned``: the
    description fixes the mapping; every entry takes it."""
    b = np.atleast_1d(np.asarray(shape.b_bytes, dtype=np.float64))
    if pinned is not None:
        return MappingChoice(np.zeros(b.shape[0], dtype=np.int64), [pinned],
                             (-np.inf, np.inf))
    candidates = mapping_candidates(shape, cfg)
    regen = np.broadcast_to(np.atleast_1d(np.asarray(regen_values, dtype=np.float64)),
                            b.shape)
    traffic_bytes = np.empty((len(candidates), b.shape[0]))
    regen_work = np.empty_like(traffic_bytes)  # regenerated values per candidate
    for i, mapping in enumerate(candidates):
        traffic = mapping_traffic(shape, cfg, mapping)
        fetches = np.divide(traffic[1], b, out=np.ones_like(b), where=b != 0)
        traffic_bytes[i] = sum(traffic)
        regen_work[i] = fetches * regen
    # Where nothing is regenerated the weight never matters (and never makes 0 x inf).
    keys = traffic_bytes + np.where(regen_work > 0, regen_work * cfg.regen_byte_cost, 0.0)
    index = np.argmin(keys, axis=0)
    return MappingChoice(index, candidates,
                         _stable_range(traffic_bytes, regen_work, index, cfg.regen_byte_cost))


def _stable_range(traffic_bytes: np.ndarray, regen_work: np.ndarray, index: np.ndarray,
                  weight: float) -> tuple[float, float]:
    """The weights w around ``weight`` for which ``index`` stays each column's argmin of
    traffic + w x regen (keys are linear in w, so the range is an interval)."""
    columns = np.arange(index.size)
    slope = regen_work[index, columns] - regen_work  # chosen minus every other
    gap = traffic_bytes - traffic_bytes[index, columns]
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = gap / slope
    upper = bound[slope > 0]
    lower = bound[slope < 0]
    hi = float(upper.min()) if upper.size else np.inf
    lo = float(lower.max()) if lower.size else -np.inf
    return min(lo, weight), max(hi, weight)


def best_mapping(shape: GemmShape, cfg: ArrayConfig,
                 regen_values: float = 0.0) -> tuple[Mapping, tuple]:
    """(mapping, DRAM traffic) of the cheapest mapping (see :func:`choose_mappings`)."""
    choice = choose_mappings(shape, cfg, regen_values)
    mapping = choice.candidates[int(choice.index[0])]
    return mapping, mapping_traffic(shape, cfg, mapping)


@dataclass(frozen=True)
class _TileInputs:
    """What a GEMM group's tiles are made from (tile_schedule_kernel's arguments)."""

    fold_weight_share: np.ndarray
    fold_regen_share: np.ndarray
    chunks: int
    stream: int
    fill: int
    a_fold_bytes: float
    b_bytes: float
    o_fold_bytes: float
    regen_values: float
    regen_lanes: int

    def kernel_args(self) -> tuple:
        return (self.fold_weight_share, self.fold_regen_share, self.chunks, self.stream,
                self.fill, self.a_fold_bytes, self.b_bytes, self.o_fold_bytes,
                self.regen_values, self.regen_lanes)

    @property
    def compute_cycles(self) -> int:
        """The PE array's cycles over every tile: each non-empty chunk of each fold
        pays the fill, and the chunks of a fold stream ``stream`` in all."""
        live = min(self.chunks, self.stream)
        return self.fold_weight_share.shape[0] * (live * self.fill + self.stream)


def _tile_inputs(shape: GemmShape, cfg: ArrayConfig, regen_values: float,
                 fold_weight_share: np.ndarray | None, fold_regen_share: np.ndarray | None,
                 mapping: Mapping | None, executed_folds: bool = False
                 ) -> tuple[_TileInputs, Mapping, int, tuple]:
    """(tile inputs, mapping, b_fetches, traffic) of ``mapping`` (default: the best).
    ``executed_folds``: the shares are per fold a zero-skipping array executes (their
    number replaces the grid's; accelsim.sim.sparsity)."""
    fr, fc, stream = cfg.folds(shape)
    if mapping is None:
        mapping, traffic = best_mapping(shape, cfg, regen_values)
    else:
        traffic = mapping_traffic(shape, cfg, mapping)
    a_reads, b_reads, o_writes, spill = traffic
    b_fetches = max(1, round(b_reads / shape.b_bytes)) if shape.b_bytes else 1
    folds = fold_weight_share.shape[0] if executed_folds else fr * fc
    if fold_weight_share is None or fold_weight_share.shape[0] != folds:
        fold_weight_share = np.full(folds, 1.0 / folds)
    if fold_regen_share is None or fold_regen_share.shape[0] != folds:
        fold_regen_share = fold_weight_share
    inputs = _TileInputs(fold_weight_share, fold_regen_share, mapping.chunks, stream,
                         cfg.flow.fill(cfg.rows, cfg.cols), a_reads / folds, b_reads,
                         (o_writes + spill) / folds, regen_values * b_fetches,
                         cfg.regen_lanes)
    return inputs, mapping, b_fetches, traffic


def tile_schedule(shape: GemmShape, cfg: ArrayConfig, regen_values: float = 0.0,
                  fold_weight_share: np.ndarray | None = None,
                  fold_regen_share: np.ndarray | None = None,
                  mapping: Mapping | None = None,
                  executed_folds: bool = False) -> tuple[TileSchedule, tuple]:
    """The tiles of ``mapping`` (default: the best one), and its (mapping, b_fetches,
    traffic) for the counters. Shares: per fold of the grid, of the weight bytes and of
    the regenerated values (None: uniform; the regen share defaults to the weight's)."""
    inputs, mapping, b_fetches, traffic = _tile_inputs(
        shape, cfg, regen_values, fold_weight_share, fold_regen_share, mapping,
        executed_folds)
    size = inputs.fold_weight_share.shape[0] * mapping.chunks
    arrays = [np.zeros(size) for _ in range(4)]
    filled = tile_schedule_kernel(*inputs.kernel_args(), *arrays)
    schedule = TileSchedule(*(a[:filled] for a in arrays), cfg.dram_bytes_per_cycle)
    return schedule, (mapping, b_fetches, traffic)


def gemm_cost(shape: GemmShape, cfg: ArrayConfig, regen_values: float = 0.0,
              fold_weight_share: np.ndarray | None = None, fidelity: str = "fast",
              fold_regen_share: np.ndarray | None = None,
              mapping: Mapping | None = None, executed_folds: bool = False) -> GemmCost:
    """Counters of one GEMM under ``mapping`` (default: its best; see the module
    docstring).

    ``fidelity`` only changes ``cycles``: "fast" is the closed-form pipeline (over tiles
    it never materialises), "event" the SimPy model of accelsim.sim.event over the
    same tiles; every count is the same.
    """
    inputs, mapping, b_fetches, traffic = _tile_inputs(
        shape, cfg, regen_values, fold_weight_share, fold_regen_share, mapping,
        executed_folds)
    a_reads, b_reads, o_writes, spill = traffic
    if fidelity == "event":
        schedule, _ = tile_schedule(shape, cfg, regen_values, fold_weight_share,
                                    fold_regen_share, mapping, executed_folds)
        cycles = event_cycles(schedule)
    else:
        cycles = fold_pipeline_cycles_kernel(*inputs.kernel_args(), cfg.dram_bytes_per_cycle)
    compute = inputs.compute_cycles - 1
    groups = shape.groups
    return GemmCost(
        compute_cycles=compute * groups + (groups - 1),
        cycles=cycles * groups + (groups - 1),
        a_read_bytes=a_reads * groups, b_read_bytes=b_reads * groups,
        o_write_bytes=o_writes * groups,
        a_refetch_bytes=(a_reads - shape.a_bytes) * groups,
        b_refetch_bytes=(b_reads - shape.b_bytes) * groups,
        psum_spill_bytes=spill * groups, b_fetches=b_fetches, mapping=mapping,
    )


def compute_cycles_closed_form(m: int, k: int, n: int, rows: int, cols: int,
                               dataflow: str) -> int:
    """SCALE-Sim's compute cycles for one unchunked GEMM: folds x (fill + T) - 1."""
    flow = DATAFLOWS[dataflow]
    fr, fc, stream = flow.folds(m, k, n, rows, cols)
    return fr * fc * (flow.fill(rows, cols) + stream) - 1
