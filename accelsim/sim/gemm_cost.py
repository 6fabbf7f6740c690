"""Traffic and cycles of one GEMM on a systolic array with three double-buffered SRAMs.

The array (R rows x C cols) holds a *stationary* block of one operand and streams a
third dimension through it (SCALE-Sim's mapping):

====== ============== ============= ===================================================
flow   stationary     fold grid     streamed (length T)
====== ============== ============= ===================================================
ws     B (k x n)      k/R x n/C     m: A rows in, partial sums of O out
os     O (m x n)      m/R x n/C     k: A and B in, finished sums stay put
is     A^T (k x m)    k/R x m/C     n: B columns in, partial sums of O out
====== ============== ============= ===================================================

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

from accelsim.jit import njit

WS, OS, IS = 0, 1, 2
DATAFLOWS = {"ws": WS, "os": OS, "is": IS}


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


@dataclass(frozen=True)
class GemmShape:
    """m x k x n (x groups) with the compulsory bytes of each operand."""

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
    chunks: int


def _fill(rows: int, cols: int, flow: int) -> int:
    """Cycles a fold spends besides streaming: preload (ws, is), skew and drain."""
    return (rows if flow == OS else 2 * rows) + cols - 2


def _ceil(a: float, b: float) -> int:
    return -(-int(a) // int(b))


def _folds(shape: GemmShape, rows: int, cols: int, flow: int) -> tuple[int, int, int]:
    """(folds along the array rows, folds along the columns, streamed length T)."""
    if flow == WS:
        return _ceil(shape.k, rows), _ceil(shape.n, cols), shape.m
    if flow == OS:
        return _ceil(shape.m, rows), _ceil(shape.n, cols), shape.k
    return _ceil(shape.k, rows), _ceil(shape.m, cols), shape.n


def _mapping_bytes(shape: GemmShape, cfg: ArrayConfig, flow: int, chunks: int,
                   rows_outer: bool) -> tuple[float, float, float, float]:
    """DRAM (A reads, B reads, O writes, psum spill) for one mapping.

    ``rows_outer``: the fold loop along the array rows is the outer one.
    """
    fr, fc, _ = _folds(shape, cfg.rows, cfg.cols, flow)
    a, b, o, ps = shape.a_bytes, shape.b_bytes, shape.o_bytes, shape.psum_bytes
    bh = shape.b_held  # what B occupies on chip (plain values), for the capacity checks
    cap_a, cap_b, cap_o = cfg.a_buffer_bytes, cfg.b_buffer_bytes, cfg.o_buffer_bytes

    def reused(total: float, held: float, cap: float, reuses: int) -> float:
        return total if held <= cap else total * reuses

    if flow == WS:
        # B stationary: fetched once if it all stays on chip across chunks, else per chunk.
        b_reads = reused(b, bh, cap_b, chunks)
        # A[chunk, k-fold] is reused by every n-fold (columns); O[chunk, n-fold] sums over
        # the k-folds (rows). The inner loop reuses its operand back to back.
        if rows_outer:  # for k-fold: for n-fold -> A block reused; psums of all n held
            a_reads = reused(a, a / chunks / fr, cap_a, fc)
            spill = 0.0 if ps / chunks <= cap_o else 2.0 * ps * (fr - 1)
        else:  # for n-fold: for k-fold -> psums block held; A chunk must stay for all n
            a_reads = reused(a, a / chunks, cap_a, fc)
            spill = 0.0 if ps / chunks / fc <= cap_o else 2.0 * ps * (fr - 1)
        return a_reads, b_reads, o, spill
    if flow == OS:
        # O stationary: each fold finishes its sums; A[m-fold, chunk] is shared by the
        # n-folds (columns), B[chunk, n-fold] by the m-folds (rows).
        if rows_outer:  # for m-fold: for n-fold -> A block reused, all of B's chunk held
            a_reads = reused(a, a / chunks / fr, cap_a, fc)
            b_reads = reused(b, bh / chunks, cap_b, fr)
        else:
            a_reads = reused(a, a / chunks, cap_a, fc)
            b_reads = reused(b, bh / chunks / fc, cap_b, fr)
        return a_reads, b_reads, o, 0.0
    # IS: A stationary; B[k-fold, chunk] is shared by the m-folds (columns); O[m-fold,
    # chunk] sums over the k-folds (rows).
    a_reads = reused(a, a, cap_a, chunks)
    if rows_outer:
        b_reads = reused(b, bh / chunks / fr, cap_b, fc)
        spill = 0.0 if ps / chunks <= cap_o else 2.0 * ps * (fr - 1)
    else:
        b_reads = reused(b, bh / chunks, cap_b, fc)
        spill = 0.0 if ps / chunks / fc <= cap_o else 2.0 * ps * (fr - 1)
    return a_reads, b_reads, o, spill


MAX_CHUNKS = 256  # finer cuts only multiply the fills; 256 leaves a 2^8 capacity range


def _chunk_candidates(length: int) -> list[int]:
    """1, 2, 4, ... chunks, at most MAX_CHUNKS and never shorter than one element."""
    out, chunks = [], 1
    while chunks <= min(max(length, 1), MAX_CHUNKS):
        out.append(chunks)
        chunks *= 2
    return out


def mapping_candidates(shape: GemmShape, cfg: ArrayConfig) -> list[tuple[int, bool]]:
    """Every (chunks, rows_outer) the mapper considers, in tie-breaking order."""
    _, _, stream = _folds(shape, cfg.rows, cfg.cols, DATAFLOWS[cfg.dataflow])
    chunk_counts = _chunk_candidates(stream) if cfg.tiling else [1]
    return [(chunks, rows_outer) for chunks in chunk_counts for rows_outer in (True, False)]


def mapping_traffic(shape: GemmShape, cfg: ArrayConfig, mapping: tuple[int, bool]) -> tuple:
    """(A reads, B reads, O writes, psum spill) of one mapping. ``shape.b_bytes`` may be
    an array (one entry per step): B's traffic is linear in it, the rest does not see it."""
    return _mapping_bytes(shape, cfg, DATAFLOWS[cfg.dataflow], *mapping)


def choose_mappings(shape: GemmShape, cfg: ArrayConfig,
                    regen_values: np.ndarray | float = 0.0) -> tuple[np.ndarray, list]:
    """Index (into :func:`mapping_candidates`) of the cheapest mapping per entry of
    ``shape.b_bytes`` (scalar or array) and the candidates: the fewest DRAM bytes, where
    every fetch of B also regenerates ``regen_values`` weights, each weighed as
    ``cfg.regen_byte_cost`` DRAM bytes (its energy relative to a DRAM byte's), so a
    mapping does not trade cheap compressed refetches for repeated regeneration. Ties go
    to the earlier candidate (fewer chunks, rows outer first)."""
    candidates = mapping_candidates(shape, cfg)
    b = np.atleast_1d(np.asarray(shape.b_bytes, dtype=np.float64))
    regen_cost = np.atleast_1d(np.asarray(regen_values, dtype=np.float64)) * cfg.regen_byte_cost
    keys = np.empty((len(candidates), b.shape[0]))
    for i, mapping in enumerate(candidates):
        traffic = mapping_traffic(shape, cfg, mapping)
        fetches = np.divide(traffic[1], b, out=np.ones_like(b), where=b != 0)
        keys[i] = sum(traffic) + fetches * regen_cost
    return np.argmin(keys, axis=0), candidates


def best_mapping(shape: GemmShape, cfg: ArrayConfig,
                 regen_values: float = 0.0) -> tuple[int, bool, tuple]:
    """(chunks, rows_outer, bytes) of the cheapest mapping (see :func:`choose_mappings`)."""
    index, candidates = choose_mappings(shape, cfg, regen_values)
    chunks, rows_outer = candidates[int(index[0])]
    return chunks, rows_outer, mapping_traffic(shape, cfg, (chunks, rows_outer))


@njit(cache=True)
def tile_schedule_kernel(fold_weight_share, fold_regen_share, chunks, stream, fill,
                         a_fold_bytes, b_bytes, o_fold_bytes, regen_values, regen_lanes,
                         compute, load, store, regen):
    """Per tile (fold x chunk, in execution order): compute cycles, bytes loaded, bytes
    stored and regeneration cycles. Returns the number of tiles filled.

    A and O move in proportion to the chunk's share of the stream; B arrives with the
    first chunk of each fold, split across folds by ``fold_weight_share``, and so do the
    regenerated values, by ``fold_regen_share`` (1/folds each when uniform).
    """
    tiles = 0
    for f in range(fold_weight_share.shape[0]):
        for c in range(chunks):
            length = stream // chunks + (1 if c < stream % chunks else 0)
            if length == 0:
                continue
            compute[tiles] = fill + length
            load[tiles] = a_fold_bytes * length / stream
            store[tiles] = o_fold_bytes * length / stream
            regen[tiles] = 0.0
            if c == 0:
                load[tiles] += b_bytes * fold_weight_share[f]
                if regen_lanes > 0:
                    regen[tiles] = regen_values * fold_regen_share[f] / regen_lanes
            tiles += 1
    return tiles


# Columns of pipeline_timeline_kernel's ``times``: when each tile's load holds the DRAM
# channel, its regeneration runs, the PE array computes it and its store holds the channel.
(LOAD_START, LOAD_END, REGEN_START, REGEN_END, COMPUTE_START, COMPUTE_END, STORE_START,
 STORE_END) = range(8)
TIMELINE_COLUMNS = 8


@njit(cache=True, inline="always")  # inlined: pipeline_cycles_kernel pays no extra call
def pipeline_timeline_kernel(compute, load, store, regen, bytes_per_cycle, times):
    """Fast fidelity: the double-buffered pipeline as a per-tile recurrence. Returns the
    cycle the last store ends (from the first load request); fills ``times`` (tiles x
    TIMELINE_COLUMNS) with every tile's start and end per unit unless it is None (then
    numba compiles the recording away).

    The loader starts tile t once tile t-1 is loaded and an input buffer half is free
    (the PE finished tile t-2); the regen unit runs beside the load; the PE computes t
    once it is loaded and regenerated, t-1 is computed and an output half is free (tile
    t-2 is stored); the writer stores t after t-1. Loads and stores share one DRAM
    channel, served in order of request (a load wins a tie). These are the rules of the
    SimPy processes in accelsim.sim.event, evaluated in closed form tile by tile.
    """
    n = compute.shape[0]
    loaded = np.empty(n)
    done = np.empty(n)
    stored = np.empty(n)
    channel = 0.0
    next_load = next_store = next_done = 0
    while next_store < n:
        # Every tile that is loaded, whose predecessor is computed and whose output
        # half is free (tile t-2 stored) gets its compute end.
        while next_done < next_load and (next_done < 2 or next_store > next_done - 2):
            t = next_done
            start = loaded[t]
            if t >= 1:
                start = max(start, done[t - 1])
            if t >= 2:
                start = max(start, stored[t - 2])
            done[t] = start + compute[t]
            if times is not None:
                times[t, COMPUTE_START] = start
                times[t, COMPUTE_END] = done[t]
            next_done += 1
        load_at = np.inf
        if next_load < n and (next_load < 2 or next_done > next_load - 2):
            load_at = loaded[next_load - 1] if next_load >= 1 else 0.0
            if next_load >= 2:
                load_at = max(load_at, done[next_load - 2])
        store_at = np.inf
        if next_store < next_done:
            store_at = done[next_store]
            if next_store >= 1:
                store_at = max(store_at, stored[next_store - 1])
        if load_at <= store_at:
            t = next_load
            begin = max(channel, load_at)
            channel = begin + load[t] / bytes_per_cycle
            loaded[t] = max(channel, load_at + regen[t])
            if times is not None:
                times[t, LOAD_START] = begin
                times[t, LOAD_END] = channel
                times[t, REGEN_START] = load_at
                times[t, REGEN_END] = load_at + regen[t]
            next_load += 1
        else:
            t = next_store
            begin = max(channel, store_at)
            channel = begin + store[t] / bytes_per_cycle
            stored[t] = channel
            if times is not None:
                times[t, STORE_START] = begin
                times[t, STORE_END] = channel
            next_store += 1
    return stored[n - 1] if n > 0 else 0.0


@njit(cache=True)
def pipeline_cycles_kernel(compute, load, store, regen, bytes_per_cycle):
    """Cycles of :func:`pipeline_timeline_kernel`'s pipeline: its last store's end minus
    one (SCALE-Sim counts the last cycle's index), 0 without tiles."""
    if compute.shape[0] == 0:
        return 0.0
    return pipeline_timeline_kernel(compute, load, store, regen, bytes_per_cycle, None) - 1


@dataclass(frozen=True)
class TileSchedule:
    """The tiles of one GEMM group in execution order (what both fidelities replay)."""

    compute: np.ndarray
    load: np.ndarray
    store: np.ndarray
    regen: np.ndarray
    bytes_per_cycle: float


def tile_schedule(shape: GemmShape, cfg: ArrayConfig, regen_values: float = 0.0,
                  fold_weight_share: np.ndarray | None = None,
                  fold_regen_share: np.ndarray | None = None,
                  mapping: tuple[int, bool] | None = None) -> tuple[TileSchedule, tuple]:
    """The tiles of ``mapping`` (default: the best one), and its (chunks, b_fetches,
    traffic) for the counters. Shares: per fold of the grid, of the weight bytes and of
    the regenerated values (None: uniform; the regen share defaults to the weight's)."""
    flow = DATAFLOWS[cfg.dataflow]
    fr, fc, stream = _folds(shape, cfg.rows, cfg.cols, flow)
    if mapping is None:
        chunks, _, traffic = best_mapping(shape, cfg, regen_values)
    else:
        chunks, traffic = mapping[0], mapping_traffic(shape, cfg, mapping)
    a_reads, b_reads, o_writes, spill = traffic
    b_fetches = max(1, round(b_reads / shape.b_bytes)) if shape.b_bytes else 1
    folds = fr * fc
    if fold_weight_share is None or fold_weight_share.shape[0] != folds:
        fold_weight_share = np.full(folds, 1.0 / folds)
    if fold_regen_share is None or fold_regen_share.shape[0] != folds:
        fold_regen_share = fold_weight_share
    size = folds * chunks
    arrays = [np.zeros(size) for _ in range(4)]
    filled = tile_schedule_kernel(
        fold_weight_share, fold_regen_share, chunks, stream, _fill(cfg.rows, cfg.cols, flow),
        a_reads / folds, b_reads, (o_writes + spill) / folds, regen_values * b_fetches,
        cfg.regen_lanes, *arrays)
    schedule = TileSchedule(*(a[:filled] for a in arrays), cfg.dram_bytes_per_cycle)
    return schedule, (chunks, b_fetches, traffic)


def gemm_cost(shape: GemmShape, cfg: ArrayConfig, regen_values: float = 0.0,
              fold_weight_share: np.ndarray | None = None, fidelity: str = "fast",
              fold_regen_share: np.ndarray | None = None,
              mapping: tuple[int, bool] | None = None) -> GemmCost:
    """Counters of one GEMM under ``mapping`` (default: its best; see the module
    docstring).

    ``fidelity`` only changes ``cycles``: "fast" is the closed-form pipeline,
    "event" the SimPy model of accelsim.sim.event; every count is the same.
    """
    schedule, (chunks, b_fetches, traffic) = tile_schedule(
        shape, cfg, regen_values, fold_weight_share, fold_regen_share, mapping)
    a_reads, b_reads, o_writes, spill = traffic
    if fidelity == "event":
        from accelsim.sim.event import event_cycles

        cycles = event_cycles(schedule)
    else:
        cycles = pipeline_cycles_kernel(schedule.compute, schedule.load, schedule.store,
                                        schedule.regen, schedule.bytes_per_cycle)
    compute = int(schedule.compute.sum()) - 1
    groups = shape.groups
    return GemmCost(
        compute_cycles=compute * groups + (groups - 1),
        cycles=cycles * groups + (groups - 1),
        a_read_bytes=a_reads * groups, b_read_bytes=b_reads * groups,
        o_write_bytes=o_writes * groups,
        a_refetch_bytes=(a_reads - shape.a_bytes) * groups,
        b_refetch_bytes=(b_reads - shape.b_bytes) * groups,
        psum_spill_bytes=spill * groups, b_fetches=b_fetches, chunks=chunks,
    )


def compute_cycles_closed_form(m: int, k: int, n: int, rows: int, cols: int,
                               dataflow: str) -> int:
    """SCALE-Sim's compute cycles for one unchunked GEMM: folds x (fill + T) - 1."""
    shape = GemmShape(m, k, n, 1, 0, 0, 0, 0)
    flow = DATAFLOWS[dataflow]
    fr, fc, stream = _folds(shape, rows, cols, flow)
    return fr * fc * (_fill(rows, cols, flow) + stream) - 1

