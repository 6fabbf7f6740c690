"""The double-buffered tile pipeline both fidelities replay: a GEMM's tiles (fold x
chunk, in execution order) and the fast fidelity's closed-form recurrence over them.

A :class:`TileSchedule` says, per tile, how many cycles the PE array computes, how many
bytes are loaded and stored, and how many cycles the regeneration unit works; the fast
fidelity evaluates it here (:func:`pipeline_cycles_kernel`), the event fidelity replays
the same schedule with SimPy processes (accelsim.sim.event).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from accelsim.jit import njit


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

    compute_cycles: np.ndarray  # PE array cycles per tile
    load_bytes: np.ndarray  # DRAM bytes loaded before the tile can compute
    store_bytes: np.ndarray  # DRAM bytes stored after it
    regen_cycles: np.ndarray  # regeneration-unit cycles beside the load
    dram_bytes_per_cycle: float


@njit(cache=True)
def _same_shift(now, before, lo, hi, valid_now, valid_before, shift):
    """Whether every time of tiles lo..hi-1 that is known now equals the time of the tile
    before it at the previous checkpoint plus ``shift`` (to rounding)."""
    for i in range(lo, hi):
        if i < valid_now:
            if i - 1 < 0 or i - 1 >= valid_before:
                return False
            expected = before[(i - 1) & 3] + shift
            if abs(now[i & 3] - expected) > 1e-12 * max(abs(expected), 1.0):
                return False
    return True


@njit(cache=True)
def fold_pipeline_cycles_kernel(fold_weight_share, fold_regen_share, chunks, stream, fill,
                                a_fold_bytes, b_bytes, o_fold_bytes, regen_values,
                                regen_lanes, bytes_per_cycle):
    """:func:`pipeline_cycles_kernel` of the tiles :func:`tile_schedule_kernel` would
    write, without writing them. The replay's hot path.

    Each tile's numbers are made when the recurrence needs them (the same arithmetic),
    and only the last four tiles' times are kept (no rule reads further back). Within a
    fold, the chunks after the first are identical tiles; once the pipeline's whole
    state — every time still to be read, the channel, the cursors' distances — is the
    previous store's state shifted by one tile and a constant time, the recurrence is
    shift-invariant (max-plus), so the rest of that run of identical tiles is skipped
    by adding the constant per tile. Cycles then agree with the tile-by-tile recurrence
    to rounding (tests hold them within 1e-9).
    """
    lengths = np.empty(chunks, dtype=np.int64)
    live = 0  # the chunks that have tiles (a chunk longer than the stream is empty)
    for c in range(chunks):
        length = stream // chunks + (1 if c < stream % chunks else 0)
        if length > 0:
            lengths[live] = length
            live += 1
    n = fold_weight_share.shape[0] * live
    if n == 0:
        return 0.0
    run_end = np.empty(live, dtype=np.int64)  # first chunk after c's run of equal tiles
    run_end[live - 1] = live
    for c in range(live - 2, -1, -1):
        run_end[c] = run_end[c + 1] if lengths[c + 1] == lengths[c] else c + 1
    loaded = np.empty(4)  # ring buffers, index t & 3
    done = np.empty(4)
    stored = np.empty(4)
    was_loaded = np.empty(4)  # the same at the previous store
    was_done = np.empty(4)
    was_stored = np.empty(4)
    was_channel = 0.0
    was_store = was_load = was_done_at = -10
    channel = 0.0
    next_load = next_store = next_done = 0
    while next_store < n:
        while next_done < next_load and (next_done < 2 or next_store > next_done - 2):
            t = next_done
            start = loaded[t & 3]
            if t >= 1:
                start = max(start, done[(t - 1) & 3])
            if t >= 2:
                start = max(start, stored[(t - 2) & 3])
            done[t & 3] = start + (fill + lengths[t % live])
            next_done += 1
        load_at = np.inf
        if next_load < n and (next_load < 2 or next_done > next_load - 2):
            load_at = loaded[(next_load - 1) & 3] if next_load >= 1 else 0.0
            if next_load >= 2:
                load_at = max(load_at, done[(next_load - 2) & 3])
        store_at = np.inf
        if next_store < next_done:
            store_at = done[next_store & 3]
            if next_store >= 1:
                store_at = max(store_at, stored[(next_store - 1) & 3])
        if load_at <= store_at:
            t = next_load
            c = t % live
            load = a_fold_bytes * lengths[c] / stream
            regen = 0.0
            if c == 0:
                f = t // live
                load += b_bytes * fold_weight_share[f]
                if regen_lanes > 0:
                    regen = regen_values * fold_regen_share[f] / regen_lanes
            begin = max(channel, load_at)
            channel = begin + load / bytes_per_cycle
            loaded[t & 3] = max(channel, load_at + regen)
            next_load += 1
            continue
        t = next_store
        store = o_fold_bytes * lengths[t % live] / stream
        begin = max(channel, store_at)
        channel = begin + store / bytes_per_cycle
        stored[t & 3] = channel
        next_store += 1
        # A checkpoint: compare with the previous one, jump if the state only shifted.
        j = next_store
        c = (j - 1) % live
        end = (j - 1) // live * live + run_end[c]  # first tile after j-1's run
        skip = end - next_load
        if (c >= 1 and skip >= 4 and was_store == j - 1 and was_load == next_load - 1
                and was_done_at == next_done - 1):
            shift = channel - was_channel
            lo = max(j - 2, 0)
            if (_same_shift(loaded, was_loaded, lo, next_load, next_load, was_load, shift)
                    and _same_shift(done, was_done, lo, next_load, next_done, was_done_at,
                                    shift)
                    and _same_shift(stored, was_stored, lo, next_load, next_store,
                                    was_store, shift)):
                for ring in (loaded, done, stored):
                    values = ring.copy()
                    for i in range(lo, next_load):
                        ring[(i + skip) & 3] = values[i & 3] + skip * shift
                channel += skip * shift
                next_load += skip
                next_done += skip
                next_store += skip
                was_store = -10
                continue
        was_loaded[:] = loaded
        was_done[:] = done
        was_stored[:] = stored
        was_channel, was_store, was_load, was_done_at = channel, next_store, next_load, next_done
    return stored[(n - 1) & 3] - 1
