"""Dataflows as classes: what a systolic array keeps stationary, how a GEMM folds onto
it, what each fold costs besides streaming, and which bytes each mapping moves.

One class per dataflow behind one interface (SCALE-Sim keeps one compute class per
dataflow too). ``O[m x n] = A[m x k] . B[k x n]`` on an R x C array:

====== ============== ============= ===================================================
flow   stationary     fold grid     streamed (length T)
====== ============== ============= ===================================================
ws     B (k x n)      k/R x n/C     m: A rows in, partial sums of O out
os     O (m x n)      m/R x n/C     k: A and B in, finished sums stay put
is     A^T (k x m)    k/R x m/C     n: B columns in, partial sums of O out
====== ============== ============= ===================================================

A :class:`Mapping` picks how the streamed dimension is cut into chunks and which fold
loop is outer; :meth:`Dataflow.traffic` says what DRAM bytes it moves (see
accelsim.sim.gemm_cost for the capacity rule), :meth:`Dataflow.sram_traffic` what the
array reads from and writes to SRAM.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


def ceil_div(a: float, b: float) -> int:
    return -(-int(a) // int(b))


@dataclass(frozen=True)
class Mapping:
    """How one GEMM runs on the array: the streamed dimension cut into ``chunks`` (each
    pays the fill again), and which fold loop is outer (``rows_outer``: the loop over
    folds along the array rows)."""

    chunks: int = 1
    rows_outer: bool = True

    @property
    def loop_order(self) -> str:
        return "rows-outer" if self.rows_outer else "cols-outer"


class Dataflow:
    """One dataflow: fold grid, per-fold fill, DRAM traffic and SRAM traffic."""

    name: ClassVar[str]
    code: ClassVar[int]  # the integer numba kernels take
    stationary: ClassVar[str]  # "a", "b" or "o": the GEMM operand held in the PEs
    streamed: ClassVar[str]  # the GEMM dimension streamed through the array

    def folds(self, m: int, k: int, n: int, rows: int, cols: int) -> tuple[int, int, int]:
        """(folds along the array rows, folds along the columns, streamed length T)."""
        raise NotImplementedError

    def fill(self, rows: int, cols: int) -> int:
        """Cycles a fold spends besides streaming: preload (ws, is), skew and drain."""
        return 2 * rows + cols - 2

    def traffic(self, shape, cfg, mapping: Mapping) -> tuple:
        """DRAM (A reads, B reads, O writes, psum spill) of ``mapping``. ``shape.b_bytes``
        may be an array (one entry per step): B's traffic is linear in it."""
        raise NotImplementedError

    def sram_traffic(self, m: int, k: int, n: int, rows: int, cols: int,
                     a_size: int, b_size: int, o_size: int) -> tuple[float, ...]:
        """SRAM bytes of one group: (A read, B read, O written, partial sums read back).
        Every operand element is read once per fold that uses it, as SCALE-Sim's compute
        models count (tests/sim/test_scalesim_crosscheck.py); partial sums are written
        once per reduction fold and read back for every one after the first."""
        raise NotImplementedError

    def weight_fold_grid(self, k: int, n: int, rows: int, cols: int) -> tuple[int, int]:
        """The (rows, cols) block of the forward weight (k x n) each fold holds: the
        array's size when weights are stationary, the whole weight (one fold) else."""
        return k, n

    def describe(self, mapping: Mapping, roles: tuple[str, str, str]) -> dict[str, Any]:
        """A mapping as results report it; ``roles``: the operands moved as A, B, O."""
        stationary = roles["abo".index(self.stationary)]
        return {"dataflow": self.name, "stationary": stationary, "streamed": self.streamed,
                "chunks": int(mapping.chunks), "loop_order": mapping.loop_order}


def _reused(total, held: float, capacity: float, reuses: int):
    """One DRAM read of ``total`` if what must stay between reuses fits, else one per reuse."""
    return total if held <= capacity else total * reuses


def _spill(psum_bytes: float, cfg, mapping: Mapping, fr: int, fc: int) -> float:
    """Partial sums written out and read back between reduction folds (ws, is): with
    the row folds outer every column fold's sums of a chunk must stay on chip, with
    them inner one column fold's."""
    held = psum_bytes / mapping.chunks / (1 if mapping.rows_outer else fc)
    return 0.0 if held <= cfg.o_buffer_bytes else 2.0 * psum_bytes * (fr - 1)


class WeightStationary(Dataflow):
    name, code, stationary, streamed = "ws", 0, "b", "m"

    def folds(self, m, k, n, rows, cols):
        return ceil_div(k, rows), ceil_div(n, cols), m

    def traffic(self, shape, cfg, mapping):
        fr, fc, _ = self.folds(shape.m, shape.k, shape.n, cfg.rows, cfg.cols)
        chunks = mapping.chunks
        a, ps = shape.a_bytes, shape.psum_bytes
        # B stationary: fetched once if it all stays on chip across chunks, else per chunk.
        b_reads = _reused(shape.b_bytes, shape.b_held, cfg.b_buffer_bytes, chunks)
        # A[chunk, k-fold] is reused by every n-fold (columns); O[chunk, n-fold] sums over
        # the k-folds (rows). The inner loop reuses its operand back to back.
        if mapping.rows_outer:  # for k-fold: for n-fold -> A block reused; all psums held
            a_reads = _reused(a, a / chunks / fr, cfg.a_buffer_bytes, fc)
        else:  # for n-fold: for k-fold -> psums block held; A chunk must stay for all n
            a_reads = _reused(a, a / chunks, cfg.a_buffer_bytes, fc)
        return a_reads, b_reads, shape.o_bytes, _spill(ps, cfg, mapping, fr, fc)

    def sram_traffic(self, m, k, n, rows, cols, a_size, b_size, o_size):
        fr, fc, _ = self.folds(m, k, n, rows, cols)
        a = m * k * fc * a_size  # each A row once per column fold
        b = k * n * b_size  # each weight preloaded once
        o = m * n * fr * o_size  # a partial sum per row fold
        return a, b, o, o * (fr - 1) / fr

    def weight_fold_grid(self, k, n, rows, cols):
        return rows, cols


class OutputStationary(Dataflow):
    name, code, stationary, streamed = "os", 1, "o", "k"

    def folds(self, m, k, n, rows, cols):
        return ceil_div(m, rows), ceil_div(n, cols), k

    def fill(self, rows, cols):
        return rows + cols - 2  # nothing to preload

    def traffic(self, shape, cfg, mapping):
        fr, fc, _ = self.folds(shape.m, shape.k, shape.n, cfg.rows, cfg.cols)
        chunks = mapping.chunks
        a, b, bh = shape.a_bytes, shape.b_bytes, shape.b_held
        # O stationary: each fold finishes its sums; A[m-fold, chunk] is shared by the
        # n-folds (columns), B[chunk, n-fold] by the m-folds (rows).
        if mapping.rows_outer:  # for m-fold: for n-fold -> A block reused, B's chunk held
            a_reads = _reused(a, a / chunks / fr, cfg.a_buffer_bytes, fc)
            b_reads = _reused(b, bh / chunks, cfg.b_buffer_bytes, fr)
        else:
            a_reads = _reused(a, a / chunks, cfg.a_buffer_bytes, fc)
            b_reads = _reused(b, bh / chunks / fc, cfg.b_buffer_bytes, fr)
        return a_reads, b_reads, shape.o_bytes, 0.0

    def sram_traffic(self, m, k, n, rows, cols, a_size, b_size, o_size):
        fr, fc, _ = self.folds(m, k, n, rows, cols)
        a = m * k * fc * a_size  # A rows shared by the column folds
        b = k * n * fr * b_size  # B columns shared by the row folds
        o = m * n * o_size  # finished sums leave once, nothing read back
        return a, b, o, 0.0


class InputStationary(Dataflow):
    name, code, stationary, streamed = "is", 2, "a", "n"

    def folds(self, m, k, n, rows, cols):
        return ceil_div(k, rows), ceil_div(m, cols), n

    def traffic(self, shape, cfg, mapping):
        fr, fc, _ = self.folds(shape.m, shape.k, shape.n, cfg.rows, cfg.cols)
        chunks = mapping.chunks
        bh, ps = shape.b_held, shape.psum_bytes
        # A stationary; B[k-fold, chunk] is shared by the m-folds (columns); O[m-fold,
        # chunk] sums over the k-folds (rows).
        a_reads = _reused(shape.a_bytes, shape.a_bytes, cfg.a_buffer_bytes, chunks)
        held = bh / chunks / fr if mapping.rows_outer else bh / chunks
        b_reads = _reused(shape.b_bytes, held, cfg.b_buffer_bytes, fc)
        return a_reads, b_reads, shape.o_bytes, _spill(ps, cfg, mapping, fr, fc)

    def sram_traffic(self, m, k, n, rows, cols, a_size, b_size, o_size):
        fr, fc, _ = self.folds(m, k, n, rows, cols)
        a = k * m * a_size  # each input preloaded once
        b = k * n * fc * b_size  # B columns shared by the column folds
        o = m * n * fr * o_size  # a partial sum per row fold
        return a, b, o, o * (fr - 1) / fr


DATAFLOWS: dict[str, Dataflow] = {flow.name: flow for flow in (
    WeightStationary(), OutputStationary(), InputStationary())}
