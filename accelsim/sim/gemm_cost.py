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
from numba import njit

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
    cap_a, cap_b, cap_o = cfg.a_buffer_bytes, cfg.b_buffer_bytes, cfg.o_buffer_bytes

    def reused(total: float, held: float, cap: float, reuses: int) -> float:
        return total if held <= cap else total * reuses

    if flow == WS:
        # B stationary: fetched once if it all stays on chip across chunks, else per chunk.
        b_reads = reused(b, b, cap_b, chunks)
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
            b_reads = reused(b, b / chunks, cap_b, fr)
        else:
            a_reads = reused(a, a / chunks, cap_a, fc)
            b_reads = reused(b, b / chunks / fc, cap_b, fr)
        return a_reads, b_reads, o, 0.0
    # IS: A stationary; B[k-fold, chunk] is shared by the m-folds (columns); O[m-fold,
    # chunk] sums over the k-folds (rows).
    a_reads = reused(a, a, cap_a, chunks)
    if rows_outer:
        b_reads = reused(b, b / chunks / fr, cap_b, fc)
        spill = 0.0 if ps / chunks <= cap_o else 2.0 * ps * (fr - 1)
    else:
        b_reads = reused(b, b / chunks, cap_b, fc)
        spill = 0.0 if ps / chunks / fc <= cap_o else 2.0 * ps * (fr - 1)
    return a_reads, b_reads, o, spill


def _chunk_candidates(length: int) -> list[int]:
    """1, 2, 4, ... chunks, up to one chunk per row of the array's worth of stream."""
    out, chunks = [], 1
    while chunks <= max(length, 1):
        out.append(chunks)
        chunks *= 2
    return out


def best_mapping(shape: GemmShape, cfg: ArrayConfig) -> tuple[int, bool, tuple]:
    """(chunks, rows_outer, bytes) of the mapping with the fewest DRAM bytes."""
    flow = DATAFLOWS[cfg.dataflow]
    _, _, stream = _folds(shape, cfg.rows, cfg.cols, flow)
    best = None
    for chunks in _chunk_candidates(stream) if cfg.tiling else [1]:
        for rows_outer in (True, False):
            traffic = _mapping_bytes(shape, cfg, flow, chunks, rows_outer)
            key = (sum(traffic), chunks)
            if best is None or key < best[0]:
                best = (key, chunks, rows_outer, traffic)
    return best[1], best[2], best[3]


@njit(cache=True)
def tile_cycles_kernel(fold_weight_share, chunks, stream, fill, a_tile_bytes,
                       b_fold_bytes, o_tile_bytes, regen_fold_values, regen_lanes,
                       bytes_per_cycle):
    """Sum over tiles of max(compute, transfer, regen), plus fill and drain.

    ``fold_weight_share[f]`` is fold f's share of the fetched B bytes and of the
    regenerated values (1/folds each when uniform). B is fetched with the first chunk of
    each fold (b_fold_bytes is the whole B, once; it is split by share).
    """
    folds = fold_weight_share.shape[0]
    total = 0.0
    first_load = -1.0
    compute_total = 0
    for f in range(folds):
        for c in range(chunks):
            length = stream // chunks + (1 if c < stream % chunks else 0)
            if length == 0:
                continue
            compute = fill + length
            compute_total += compute
            moved = a_tile_bytes * length / stream + o_tile_bytes * length / stream
            regen = 0.0
            if c == 0:
                moved += b_fold_bytes * fold_weight_share[f]
                if regen_lanes > 0:
                    regen = regen_fold_values * fold_weight_share[f] / regen_lanes
            transfer = moved / bytes_per_cycle
            if first_load < 0.0:
                first_load = transfer
            total += max(compute, transfer, regen)
    # The first tile cannot overlap its own load; the last write drains after compute.
    drain = o_tile_bytes / max(folds * chunks, 1) / bytes_per_cycle
    return compute_total - 1, total + max(first_load, 0.0) + drain - 1


def gemm_cost(shape: GemmShape, cfg: ArrayConfig, regen_values: float = 0.0,
              fold_weight_share: np.ndarray | None = None) -> GemmCost:
    """Counters of one GEMM under its best mapping (see the module docstring)."""
    flow = DATAFLOWS[cfg.dataflow]
    fr, fc, stream = _folds(shape, cfg.rows, cfg.cols, flow)
    chunks, _, (a_reads, b_reads, o_writes, spill) = best_mapping(shape, cfg)
    b_fetches = max(1, round(b_reads / shape.b_bytes)) if shape.b_bytes else 1
    folds = fr * fc
    if fold_weight_share is None or fold_weight_share.shape[0] != folds:
        fold_weight_share = np.full(folds, 1.0 / folds)
    a_per_fold = a_reads / folds
    o_per_fold = (o_writes + spill) / folds
    compute, cycles = tile_cycles_kernel(
        fold_weight_share, chunks, stream, _fill(cfg.rows, cfg.cols, flow), a_per_fold,
        b_reads, o_per_fold, regen_values * b_fetches, cfg.regen_lanes,
        cfg.dram_bytes_per_cycle)
    groups = shape.groups
    return GemmCost(
        compute_cycles=int(compute) * groups + (groups - 1),
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

