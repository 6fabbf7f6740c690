"""Burst-level DRAM timing and energy: open-page banks, first-ready window, refresh, per stream.

Replays a stream of burst-sized requests (numpy arrays: byte address, read/write, arrival
cycle, stream id) on a timed :class:`~accelsim.hw.Dram` and counts row hits, misses and
conflicts, ACT/PRE/RD/WR/REF commands, cycles to the last data and energy by component
and by stream. Times are DRAM clock cycles (tCK). The model, its constraints and its
simplifications are described in docs/dram.md.

    dram = load_hardware("edge-lpddr4").dram
    addresses, extent = bursts_for_extents(starts, lengths, dram.burst_bytes)
    stats = simulate_dram(dram, addresses, is_write[extent], arrival[extent], stream[extent])
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from accelsim.errors import ConfigError
from accelsim.hw.description import Dram
from accelsim.jit import njit

STREAM_NAMES = ("weights", "metadata", "activations", "gradients", "optimizer_state")
ENERGY_COMPONENTS = ("act", "pre", "read", "write", "background", "refresh")
ADDRESS_FIELDS = ("channel", "rank", "bank", "row", "column")

# A row field that is not the most significant one needs a width; the description gives no
# row count, so it is 2**16 rows per bank (a DDR4 8 Gb x8 die has 64 Ki rows).
ROW_BITS_BELOW_TOP = 16

# Timing vector (clock cycles), indices:
(T_RCD, T_RP, T_CL, T_RAS, T_COL, T_RRD, T_FAW, T_WR, T_RTP, T_RFC, T_REFI, T_BURST, T_CWL,
 T_WTR, T_RTW, T_CCD_L, T_RRD_L, T_WTR_L) = range(18)
# Per-channel counters:
(C_HITS, C_MISSES, C_CONFLICTS, C_ACTS, C_PRES, C_READS, C_WRITES, C_REFRESHES, C_CYCLES,
 C_BUSY) = range(10)
CHANNEL_COUNTERS = ("row_hits", "row_misses", "row_conflicts", "acts", "pres", "reads",
                    "writes", "refreshes", "cycles", "bus_busy_cycles")
# Per-stream counters:
S_BURSTS, S_READS, S_WRITES, S_HITS, S_MISSES, S_CONFLICTS, S_ACTS, S_PRES = range(8)
STREAM_COUNTERS = ("bursts", "reads", "writes", "row_hits", "row_misses", "row_conflicts",
                   "acts", "pres")

# Column commands a row serves before an older request to another row of its bank may
# close it: DRAMsim3's open-page arbitration (command_queue.cc, ArbitratePrecharge).
ROW_HIT_CAP = 4
_NEVER = np.int64(-(1 << 40))  # "long ago": no constraint from a command that never was


# --- description -> cycles and bit fields ----------------------------------------------------

@dataclass(frozen=True)
class DramTiming:
    """A timed DRAM's constraints in whole clock cycles (each rounded up, as a controller must)."""

    trcd: int
    trp: int
    tcl: int
    tras: int
    tccd: int
    trrd: int
    tfaw: int
    twr: int
    trtp: int
    trfc: int
    trefi: int
    burst_cycles: int  # burst_length / 2: a double-data-rate bus moves two beats per clock
    tcwl: int
    twtr: int
    trtw: int
    tccd_l: int
    trrd_l: int
    twtr_l: int
    bank_groups: int

    @classmethod
    def from_dram(cls, dram: Dram) -> DramTiming:
        _require_timed(dram)

        def cycles(seconds: float) -> int:
            return max(0, math.ceil(seconds / dram.tck_s - 0.01))

        return cls(trcd=cycles(dram.trcd_s), trp=cycles(dram.trp_s), tcl=cycles(dram.tcl_s),
                   tras=cycles(dram.tras_s), tccd=cycles(dram.tccd_s),
                   trrd=cycles(dram.trrd_s), tfaw=cycles(dram.tfaw_s), twr=cycles(dram.twr_s),
                   trtp=cycles(dram.trtp_s), trfc=cycles(dram.trfc_s),
                   trefi=max(1, cycles(dram.trefi_s)),
                   burst_cycles=max(1, dram.burst_length // 2), tcwl=cycles(dram.tcwl_s),
                   twtr=cycles(dram.twtr_s), trtw=cycles(dram.trtw_s),
                   tccd_l=cycles(dram.tccd_l_s), trrd_l=cycles(dram.trrd_l_s),
                   twtr_l=cycles(dram.twtr_l_s), bank_groups=dram.bank_groups)

    @property
    def column_spacing(self) -> int:
        """Cycles between column commands on a channel: tCCD, and never less than a burst."""
        return max(self.tccd, self.burst_cycles)

    def vector(self) -> np.ndarray:
        """The kernel's timing vector (indices T_RCD ... T_WTR_L)."""
        return np.array([self.trcd, self.trp, self.tcl, self.tras, self.column_spacing,
                         self.trrd, self.tfaw, self.twr, self.trtp, self.trfc, self.trefi,
                         self.burst_cycles, self.tcwl, self.twtr, self.trtw,
                         max(self.tccd_l, self.burst_cycles), self.trrd_l, self.twtr_l],
                        dtype=np.int64)


@dataclass(frozen=True)
class AddressMap:
    """Bit fields of a byte address: field = (address >> shift) & mask, per ADDRESS_FIELDS.

    The description's address_mapping lists fields most significant first, above the burst
    offset. Every field but the top one is log2(count) bits wide; the top one takes the
    remaining bits (the row), or wraps modulo its count (any other field).
    """

    mapping: tuple[str, ...]
    shifts: tuple[int, ...]  # in ADDRESS_FIELDS order
    masks: tuple[int, ...]

    @classmethod
    def from_dram(cls, dram: Dram) -> AddressMap:
        _require_timed(dram)
        counts = {"channel": dram.channels, "rank": dram.ranks, "bank": dram.banks,
                  "column": dram.row_size_bytes // dram.burst_bytes}
        for key, what, value in (
                ("channels", "channels", dram.channels), ("ranks", "ranks", dram.ranks),
                ("banks", "banks", dram.banks),
                ("bus_width", "bytes per burst (bus_width x burst_length)", dram.burst_bytes),
                ("row_size", "bursts per row", counts["column"])):
            if value < 1 or value & (value - 1):
                shown = value if key == what else f"{value} {what}"
                raise ConfigError(f"dram.{key}: {shown} is not a power of two; the "
                                  "burst-level DRAM model decodes addresses by bit fields")
        shift = dram.burst_bytes.bit_length() - 1
        shifts, masks = {}, {}
        for position, field in enumerate(reversed(dram.address_mapping)):
            top = position == len(dram.address_mapping) - 1
            bits = (ROW_BITS_BELOW_TOP if field == "row"
                    else counts[field].bit_length() - 1)
            shifts[field] = shift
            masks[field] = (1 << 64) - 1 if top and field == "row" else (1 << bits) - 1
            shift += bits
        return cls(tuple(dram.address_mapping), tuple(shifts[f] for f in ADDRESS_FIELDS),
                   tuple(masks[f] for f in ADDRESS_FIELDS))

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(shifts, masks) as uint64 arrays for the kernels."""
        return (np.array(self.shifts, dtype=np.uint64), np.array(self.masks, dtype=np.uint64))


def _require_timed(dram: Dram) -> None:
    if dram.is_ideal:
        raise ConfigError('dram.standard: "ideal" has no banks or timing, so the burst-level '
                          "DRAM model cannot run on it; pick a timed standard (e.g. "
                          '"ddr4-3200") or use the ideal bandwidth in the replay')


@njit(cache=True, inline="always")
def _field(address, shift, mask):
    """One address field, (address >> shift) & mask, as int64 (all three uint64)."""
    return np.int64((address >> shift) & mask)


@njit(cache=True)
def decode_kernel(addresses, shifts, masks, fields):
    """fields[k, i] = field k of addresses[i] (k in ADDRESS_FIELDS order)."""
    for i in range(addresses.shape[0]):
        for k in range(fields.shape[0]):
            fields[k, i] = _field(addresses[i], shifts[k], masks[k])


@njit(cache=True)
def locate_kernel(addresses, shifts, masks, ranks, banks, channel, bank_id, row):
    """Channel (unless ``channel`` is empty), global bank ((channel * ranks + rank) * banks
    + bank) and row of each request."""
    keep_channel = channel.shape[0] > 0
    for i in range(addresses.shape[0]):
        address = addresses[i]
        ch = _field(address, shifts[0], masks[0])
        if keep_channel:
            channel[i] = ch
        rank = _field(address, shifts[1], masks[1])
        bank_id[i] = (ch * ranks + rank) * banks + _field(address, shifts[2], masks[2])
        row[i] = _field(address, shifts[3], masks[3])


def decode_addresses(dram: Dram, addresses: np.ndarray) -> dict[str, np.ndarray]:
    """Channel, rank, bank, row and column (burst index in the row) of each byte address."""
    addresses = np.ascontiguousarray(addresses, dtype=np.uint64)
    shifts, masks = AddressMap.from_dram(dram).arrays()
    fields = np.empty((len(ADDRESS_FIELDS), addresses.shape[0]), dtype=np.int64)
    decode_kernel(addresses, shifts, masks, fields)
    return dict(zip(ADDRESS_FIELDS, fields, strict=True))


def bursts_for_extents(starts: np.ndarray, lengths: np.ndarray,
                       burst_bytes: int) -> tuple[np.ndarray, np.ndarray]:
    """Burst-aligned addresses covering each (start, length) byte extent, in order.

    Returns (addresses uint64, extent int64): ``extent[j]`` is the extent burst j belongs
    to, so per-extent attributes follow with ``is_write[extent]``. An extent that starts or
    ends inside a burst moves the whole burst; a zero-length extent moves none.
    """
    starts = np.asarray(starts, dtype=np.uint64).ravel()
    lengths = np.asarray(lengths, dtype=np.uint64).ravel()
    if starts.shape != lengths.shape:
        raise ValueError(f"bursts_for_extents: {starts.size} starts but {lengths.size} lengths")
    if burst_bytes < 1 or burst_bytes & (burst_bytes - 1):
        raise ValueError(f"bursts_for_extents: burst_bytes {burst_bytes} is not a power of two")
    size = np.uint64(burst_bytes)
    first = starts // size
    ends = (starts + lengths + size - np.uint64(1)) // size  # one past the last burst
    counts = np.where(lengths > 0, ends - first, np.uint64(0)).astype(np.int64)
    extent = np.repeat(np.arange(starts.size, dtype=np.int64), counts)
    offsets = np.cumsum(counts) - counts  # index of each extent's first burst
    within = np.arange(extent.size, dtype=np.int64) - offsets[extent]
    addresses = (first[extent] + within.astype(np.uint64)) * size
    return addresses, extent


# --- the timing kernel ------------------------------------------------------------------------
# The per-request work is written out inside dram_kernel: a call to a helper taking the
# state arrays costs an atomic reference-count pair per array (numba's NRT), which was
# three quarters of the run time. Refresh, every tREFI, stays a helper.

@njit(cache=True)
def _refresh_rank(rank, banks, timing, open_row, opener, act_ready, pre_ready, next_ref,
                  channel_counts, channel, stream_counts):
    """All-bank REF of one rank at its due cycle, or once its open banks can close."""
    due = next_ref[rank]
    ref_time = due
    first = rank * banks
    for b in range(first, first + banks):
        if open_row[b] >= 0:  # PRE it; the stream that opened the row pays for the PRE
            pre_time = max(pre_ready[b], due - timing[T_RP])
            ref_time = max(ref_time, pre_time + timing[T_RP])
            open_row[b] = -1
            channel_counts[channel, C_PRES] += 1
            stream_counts[opener[b], S_PRES] += 1
        ref_time = max(ref_time, act_ready[b])
    for b in range(first, first + banks):
        act_ready[b] = ref_time + timing[T_RFC]
    next_ref[rank] = due + timing[T_REFI]
    channel_counts[channel, C_REFRESHES] += 1


@njit(cache=True)
def dram_kernel(order, channel_start, bank_id, row, is_write, arrival, stream, ranks, banks,
                groups, timing, window, channel_counts, stream_counts, done_cycle):
    """Serve every channel's requests, order[channel_start[c]:channel_start[c + 1]] (an empty
    order: requests in index order).

    Per channel the next ``window`` pending requests are the candidates. Of those that
    have arrived, the one whose RD/WR can go earliest is served next (first ready; a row
    hit before a miss at the same cycle, else the older); a miss may not close a row that
    a waiting request still hits unless it is older and ROW_HIT_CAP column commands have
    used the row since its ACT; the oldest goes once it has been passed over ``window``
    times in a row. A request's PRE/ACT may go as soon as it has arrived and entered the
    window. Every command goes at the earliest cycle its constraints allow: with
    ``groups`` > 1 bank groups per rank (a bank's group: the low bits of its bank number)
    the same-group tCCD_L, tRRD_L and tWTR_L apply beside tCCD, tRRD and tWTR; read/write
    turnaround (tWTR after write data, tRTW after a read) per rank; write data follows
    tCWL. done_cycle[i]: the cycle request i's last data beat ends.
    """
    n_channels = channel_start.shape[0] - 1
    in_order = order.shape[0] > 0
    n_ranks = n_channels * ranks
    n_banks = n_ranks * banks
    bank_bits = np.int64(0)
    while (np.int64(1) << bank_bits) < banks:
        bank_bits += 1
    open_row = np.full(n_banks, np.int64(-1))
    opener = np.zeros(n_banks, np.int64)     # stream whose request opened the row
    act_ready = np.zeros(n_banks, np.int64)  # earliest ACT: refresh over
    col_ready = np.zeros(n_banks, np.int64)  # earliest RD/WR to the open row: ACT + tRCD
    pre_ready = np.zeros(n_banks, np.int64)  # earliest PRE: ACT + tRAS, RD + tRTP, WR + tWR
    row_run = np.zeros(n_banks, np.int64)    # RD/WRs to the open row since its ACT
    last_act = np.full(n_ranks, _NEVER)
    grouped = groups > 1
    last_read = np.full(n_ranks, _NEVER)       # a rank's last RD command
    last_write_end = np.full(n_ranks, _NEVER)  # and the end of its last write data
    group_col = np.full(n_ranks * groups, _NEVER)        # per bank group: last RD/WR,
    group_act = np.full(n_ranks * groups, _NEVER)        # last ACT,
    group_write_end = np.full(n_ranks * groups, _NEVER)  # end of the last write data
    faw = np.full((n_ranks, 4), _NEVER)      # a rank's last four ACTs, oldest at faw_next
    faw_next = np.zeros(n_ranks, np.int64)
    next_ref = np.full(n_ranks, timing[T_REFI])
    longest = max(timing[T_CL], timing[T_CWL])
    # The window: a pool of `window` nodes linked oldest to youngest.
    node_req = np.empty(window, np.int64)
    node_entry = np.empty(window, np.int64)  # cycle each one entered the window
    node_bank = np.empty(window, np.int64)   # their banks, rows, arrivals and directions,
    node_row = np.empty(window, np.int64)    # kept at hand for the scan
    node_arrival = np.empty(window, np.int64)
    node_write = np.empty(window, np.int64)
    node_kind = np.empty(window, np.int64)   # bank x (miss, hit) x (read, write)
    nxt = np.empty(window, np.int64)
    prv = np.empty(window, np.int64)
    kinds = np.zeros(n_banks * 4, np.int64)  # window requests of each kind,
    bank_head = np.full(n_banks, np.int64(-1))  # each bank's window requests, chained
    bnext = np.empty(window, np.int64)
    bprev = np.empty(window, np.int64)
    seen = np.zeros(n_banks * 4, np.int64)   # kinds met by this pick's scan
    hit_mark = np.zeros(n_banks, np.int64)   # banks with a waiting row hit, this pick
    older_miss = np.zeros(n_banks, np.int64)  # banks with an older miss, this pick
    miss_at = np.empty(window, np.int64)     # the misses worth timing, this pick
    pass_id = np.int64(0)
    for c in range(n_channels):
        for p in range(window):
            nxt[p] = p + 1 if p + 1 < window else -1  # the free list, threaded through nxt
        free = np.int64(0)
        head = np.int64(-1)
        tail = np.int64(-1)
        count = np.int64(0)
        distinct = np.int64(0)  # kinds with a request in the window
        hit_count = np.int64(0)  # window requests that hit their bank's open row
        next_in = channel_start[c]
        end = channel_start[c + 1]
        now = np.int64(0)  # the scheduler's clock: the last RD/WR issued, or an arrival
        last_col = _NEVER
        bus_free = np.int64(0)  # end of the data bus's last burst
        last_data = np.int64(0)
        bypassed = np.int64(0)
        while count > 0 or next_in < end:
            # -- the next requests in line enter the window (at `now`)
            while count < window and next_in < end:
                i = order[next_in] if in_order else next_in
                p = free
                free = nxt[p]
                node_req[p] = i
                node_entry[p] = now
                b = bank_id[i]
                node_bank[p] = b
                node_row[p] = row[i]
                node_arrival[p] = arrival[i]
                node_write[p] = is_write[i]
                kind = b * 4 + (2 if open_row[b] == row[i] else 0) + is_write[i]
                node_kind[p] = kind
                if kinds[kind] == 0:
                    distinct += 1
                kinds[kind] += 1
                hit_count += (kind >> 1) & 1
                bnext[p] = bank_head[b]  # the bank's chain
                bprev[p] = -1
                if bank_head[b] >= 0:
                    bprev[bank_head[b]] = p
                bank_head[b] = p
                nxt[p] = -1
                prv[p] = tail
                if tail >= 0:
                    nxt[tail] = p
                else:
                    head = p
                tail = p
                count += 1
                next_in += 1
            # -- refresh what is due
            if node_arrival[head] > now:
                now = node_arrival[head]
            for rank in range(c * ranks, (c + 1) * ranks):
                if next_ref[rank] <= now:
                    while next_ref[rank] <= now:
                        _refresh_rank(rank, banks, timing, open_row, opener, act_ready,
                                      pre_ready, next_ref, channel_counts, c, stream_counts)
                    for b in range(rank * banks, (rank + 1) * banks):
                        p = bank_head[b]  # the bank is closed: its row hits are misses now
                        while p >= 0:
                            kind = node_kind[p]
                            if kind & 2:
                                kinds[kind] -= 1  # written out: a helper taking the arrays
                                kinds[kind - 2] += 1  # costs reference counting per call
                                node_kind[p] = kind - 2
                                hit_count -= 1
                                if kinds[kind] == 0:
                                    distinct -= 1
                                if kinds[kind - 2] == 1:
                                    distinct += 1
                            p = bnext[p]
            # -- pick, first ready: of the arrived requests, the one whose RD/WR can go
            # earliest (a row hit before a miss, then the older). No PRE for a bank while
            # a row hit to its open row waits, unless ROW_HIT_CAP hits have gone since the
            # ACT and the miss is older; the oldest once it has been passed ``window`` times.
            # Of requests of one kind (bank, hit or miss, direction) only the oldest can be
            # first, so the scan stops once it has met every kind in the window.
            arrived = count  # arrivals rise along the window: find the arrived prefix
            p = tail
            while node_arrival[p] > now:
                arrived -= 1
                p = prv[p]
            pass_id += 1
            if bypassed >= window:
                arrived = 1
            floor = max(last_col + timing[T_COL], bus_free - longest)  # the bus's next slot
            best_key = np.int64(1) << np.int64(62)
            pick = head
            act_time = _NEVER
            col_time = np.int64(0)
            misses = 0
            met = 0
            k = 0
            p = head
            scanning = hit_count > 0  # with no row hit waiting, straight to the misses
            direct = not scanning
            if direct:
                arrived = -arrived  # below: time the misses as they come
            while True:
                if scanning:  # the row hits, in age order
                    if k == arrived or met == distinct:
                        if misses == 0:
                            break
                        scanning = False
                        k = 0
                        lowest_act = np.int64(1) << np.int64(62)  # the lowest a miss goes
                        for rank in range(c * ranks, (c + 1) * ranks):
                            lowest_act = min(lowest_act, max(
                                last_act[rank] + timing[T_RRD],
                                faw[rank, faw_next[rank]] + timing[T_FAW]))
                        floor = max(floor, lowest_act + timing[T_RCD])
                        continue
                    position = p
                    p = nxt[p]
                    k += 1
                    kind = node_kind[position]
                    first = seen[kind] != pass_id
                    if first:
                        seen[kind] = pass_id
                        met += 1
                    b = node_bank[position]
                    if not kind & 2:
                        older_miss[b] = pass_id
                        if first:
                            miss_at[misses] = position
                            misses += 1
                        continue
                    if older_miss[b] == pass_id and row_run[b] >= ROW_HIT_CAP:
                        continue  # the older miss's PRE goes first
                    hit_mark[b] = pass_id
                    if not first:
                        continue  # an older request of its kind goes no later
                    hit = True
                elif direct:  # no row hit anywhere: the misses in age order
                    if arrived < 0:  # first time here: the floor of a miss
                        arrived = -arrived
                        lowest_act = np.int64(1) << np.int64(62)
                        for rank in range(c * ranks, (c + 1) * ranks):
                            lowest_act = min(lowest_act, max(
                                last_act[rank] + timing[T_RRD],
                                faw[rank, faw_next[rank]] + timing[T_FAW]))
                        floor = max(floor, lowest_act + timing[T_RCD])
                    if k == arrived:
                        break
                    position = p
                    p = nxt[p]
                    k += 1
                    kind = node_kind[position]
                    if seen[kind] == pass_id:
                        continue
                    seen[kind] = pass_id
                    b = node_bank[position]
                    hit = False
                else:  # then the misses
                    if k == misses:
                        break
                    position = miss_at[k]
                    k += 1
                    b = node_bank[position]
                    if hit_mark[b] == pass_id:
                        continue  # a row hit to this bank's open row is waiting
                    hit = False
                ready = max(node_arrival[position], node_entry[position])
                rank = b >> bank_bits  # banks is a power of two
                rg = rank * groups + (b & (banks - 1) & (groups - 1))
                write = node_write[position] != 0
                # every command at the earliest cycle its constraints allow
                act = _NEVER
                if hit:
                    column_ready = col_ready[b]
                else:
                    act = max(ready, act_ready[b])
                    if open_row[b] >= 0:  # a conflict: PRE first
                        act = max(act, max(ready, pre_ready[b]) + timing[T_RP])
                    act = max(act, last_act[rank] + timing[T_RRD],
                              faw[rank, faw_next[rank]] + timing[T_FAW])
                    if grouped:
                        act = max(act, group_act[rg] + timing[T_RRD_L])
                    column_ready = act + timing[T_RCD]
                latency = timing[T_CWL] if write else timing[T_CL]
                t = max(ready, column_ready, last_col + timing[T_COL], bus_free - latency)
                if grouped:
                    t = max(t, group_col[rg] + timing[T_CCD_L])
                if write:  # read-to-write turnaround
                    t = max(t, last_read[rank] + timing[T_RTW])
                else:  # write-to-read: tWTR after the write data (tWTR_L same group)
                    t = max(t, last_write_end[rank] + timing[T_WTR])
                    if grouped:
                        t = max(t, group_write_end[rg] + timing[T_WTR_L])
                key = 2 * t + (0 if hit else 1)
                if key < best_key:
                    best_key, pick, act_time, col_time = key, position, act, t
                    if t <= floor:
                        break  # nothing goes earlier
            bypassed = 0 if pick == head else bypassed + 1
            # -- out of the window
            i = node_req[pick]
            kind = node_kind[pick]
            kinds[kind] -= 1
            if kinds[kind] == 0:
                distinct -= 1
            b = bank_id[i]
            hit_count -= (kind >> 1) & 1
            if bprev[pick] >= 0:
                bnext[bprev[pick]] = bnext[pick]
            else:
                bank_head[b] = bnext[pick]
            if bnext[pick] >= 0:
                bprev[bnext[pick]] = bprev[pick]
            if prv[pick] >= 0:
                nxt[prv[pick]] = nxt[pick]
            else:
                head = nxt[pick]
            if nxt[pick] >= 0:
                prv[nxt[pick]] = prv[pick]
            else:
                tail = prv[pick]
            nxt[pick] = free
            free = pick
            count -= 1
            # -- row commands: none on a hit; ACT on a miss; PRE then ACT on a conflict
            s = stream[i]
            rank = b >> bank_bits
            rg = rank * groups + (b & (banks - 1) & (groups - 1))
            write = is_write[i] != 0
            if act_time == _NEVER:
                channel_counts[c, C_HITS] += 1
                stream_counts[s, S_HITS] += 1
            else:
                if open_row[b] < 0:
                    channel_counts[c, C_MISSES] += 1
                    stream_counts[s, S_MISSES] += 1
                else:
                    channel_counts[c, C_CONFLICTS] += 1
                    stream_counts[s, S_CONFLICTS] += 1
                    channel_counts[c, C_PRES] += 1
                    stream_counts[s, S_PRES] += 1
                fourth = faw_next[rank]  # the fourth ACT back: tFAW after it at the earliest
                if grouped:
                    group_act[rg] = act_time
                last_act[rank] = act_time
                faw[rank, fourth] = act_time
                faw_next[rank] = (fourth + 1) & 3
                open_row[b] = row[i]
                opener[b] = s
                row_run[b] = 0
                col_ready[b] = act_time + timing[T_RCD]
                pre_ready[b] = act_time + timing[T_RAS]
                channel_counts[c, C_ACTS] += 1
                stream_counts[s, S_ACTS] += 1
                p = bank_head[b]  # the bank's other requests: hits and misses anew
                while p >= 0:
                    old = node_kind[p]
                    new = (old & ~np.int64(2)) | (2 if node_row[p] == row[i] else 0)
                    if new != old:
                        kinds[old] -= 1
                        kinds[new] += 1
                        node_kind[p] = new
                        hit_count += ((new >> 1) & 1) - ((old >> 1) & 1)
                        if kinds[old] == 0:
                            distinct -= 1
                        if kinds[new] == 1:
                            distinct += 1
                    p = bnext[p]
            # -- the column command, on the channel's data bus
            latency = timing[T_CWL] if write else timing[T_CL]
            data_end = col_time + latency + timing[T_BURST]
            row_run[b] += 1
            bus_free = data_end
            group_col[rg] = col_time
            stream_counts[s, S_BURSTS] += 1
            if write:
                # Write recovery: PRE waits tWR after the last write beat.
                pre_ready[b] = max(pre_ready[b], data_end + timing[T_WR])
                last_write_end[rank] = data_end
                group_write_end[rg] = data_end
                channel_counts[c, C_WRITES] += 1
                stream_counts[s, S_WRITES] += 1
            else:
                pre_ready[b] = max(pre_ready[b], col_time + timing[T_RTP])
                last_read[rank] = col_time
                channel_counts[c, C_READS] += 1
                stream_counts[s, S_READS] += 1
            done_cycle[i] = data_end
            last_col = col_time
            last_data = max(last_data, data_end)
            now = max(now, col_time)
        for rank in range(c * ranks, (c + 1) * ranks):  # refreshes due before the last data
            while next_ref[rank] <= last_data:
                _refresh_rank(rank, banks, timing, open_row, opener, act_ready, pre_ready,
                              next_ref, channel_counts, c, stream_counts)
        channel_counts[c, C_CYCLES] = last_data
        channel_counts[c, C_BUSY] = (channel_counts[c, C_READS] + channel_counts[c, C_WRITES]) \
            * timing[T_BURST]


# --- the Python wrapper -----------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class DramStats:
    """What one request stream cost on one DRAM: counts per channel and per stream, energy.

    Per-channel arrays have one entry per channel; per-stream arrays one per stream id
    (at least len(STREAM_NAMES)). ``stream_energy_pj[s, k]`` is stream s's share of
    component ENERGY_COMPONENTS[k]; its columns sum to ``energy_pj``.
    """

    standard: str
    window: int
    burst_bytes: int
    tck_s: float
    cycles: int  # last data beat over all channels, from cycle 0
    row_hits: np.ndarray
    row_misses: np.ndarray  # bank closed
    row_conflicts: np.ndarray  # another row open
    acts: np.ndarray
    pres: np.ndarray
    reads: np.ndarray
    writes: np.ndarray
    refreshes: np.ndarray
    channel_cycles: np.ndarray
    bus_busy_cycles: np.ndarray
    stream_bursts: np.ndarray
    stream_reads: np.ndarray
    stream_writes: np.ndarray
    stream_row_hits: np.ndarray
    stream_row_misses: np.ndarray
    stream_row_conflicts: np.ndarray
    stream_acts: np.ndarray
    stream_pres: np.ndarray
    stream_energy_pj: np.ndarray
    energy_pj: dict[str, float]
    done_cycle: np.ndarray  # per request: cycle its last data beat ends

    @property
    def seconds(self) -> float:
        return self.cycles * self.tck_s

    @property
    def requests(self) -> int:
        return int(self.stream_bursts.sum())

    @property
    def bytes(self) -> int:
        return self.requests * self.burst_bytes

    @property
    def stream_bytes(self) -> np.ndarray:
        return self.stream_bursts * self.burst_bytes

    @property
    def row_hit_rate(self) -> float:
        return int(self.row_hits.sum()) / max(1, self.requests)

    @property
    def bus_utilisation(self) -> float:
        """Data-bus busy cycles over (cycles x channels): the share of peak bandwidth used."""
        return int(self.bus_busy_cycles.sum()) / max(1, self.cycles * len(self.channel_cycles))

    @property
    def bandwidth_bytes_per_s(self) -> float:
        return self.bytes / self.seconds if self.cycles else 0.0

    @property
    def total_energy_pj(self) -> float:
        return float(sum(self.energy_pj.values()))

    def totals(self) -> dict[str, int]:
        """Per-channel counters summed over channels (cycles: the maximum)."""
        totals = {name: int(getattr(self, name).sum()) for name in CHANNEL_COUNTERS
                  if name != "cycles"}
        totals["cycles"] = self.cycles
        return totals


def simulate_dram(dram: Dram, addresses: np.ndarray, is_write: np.ndarray,
                  arrival: np.ndarray | None = None, stream: np.ndarray | None = None, *,
                  window: int | None = None) -> DramStats:
    """Replay burst requests on a timed DRAM (see the module doc and docs/dram.md).

    addresses: byte addresses (uint64), one burst each; is_write: bool or uint8;
    arrival: cycle each request is available (int64, non-decreasing; None or all 0: all
    at once); stream: uint8 id (STREAM_NAMES) for per-stream accounting (None: all 0).
    ``window``: pending requests per channel the scheduler looks at (None: the
    description's ``dram.scheduler_window``). The ideal standard raises ConfigError: it has
    no banks or timing.
    """
    _require_timed(dram)
    window = dram.scheduler_window if window is None else window
    arguments = kernel_arguments(dram, addresses, is_write, arrival, stream, window)
    dram_kernel(*arguments)
    channel_counts, stream_counts, done_cycle = arguments[-3:]
    return _stats(dram, window, channel_counts, stream_counts, done_cycle)


def kernel_arguments(dram: Dram, addresses: np.ndarray, is_write: np.ndarray,
                     arrival: np.ndarray | None, stream: np.ndarray | None,
                     window: int) -> tuple:
    """dram_kernel's arguments, its zeroed outputs last: requests checked, decoded, queued."""
    timing = DramTiming.from_dram(dram)
    shifts, masks = AddressMap.from_dram(dram).arrays()
    addresses, is_write, arrival, stream = _check_requests(addresses, is_write, arrival, stream)
    if window < 1:
        raise ValueError(f"simulate_dram: window must be at least 1, got {window}")
    n = addresses.shape[0]
    channel = np.empty(n if dram.channels > 1 else 0, dtype=np.int64)
    bank_id = np.empty(n, dtype=np.int64)
    row = np.empty(n, dtype=np.int64)
    locate_kernel(addresses, shifts, masks, np.int64(dram.ranks), np.int64(dram.banks),
                  channel, bank_id, row)
    if dram.channels == 1:
        order = np.empty(0, dtype=np.int64)  # index order
        channel_start = np.array([0, n], dtype=np.int64)
    else:  # each channel's requests in arrival order, channel after channel
        order = np.argsort(channel.astype(np.uint16), kind="stable").astype(np.int64)
        per_channel = np.bincount(channel, minlength=dram.channels)
        channel_start = np.concatenate(([0], np.cumsum(per_channel))).astype(np.int64)
    streams = max(len(STREAM_NAMES), int(stream.max()) + 1 if n else 0)
    channel_counts = np.zeros((dram.channels, len(CHANNEL_COUNTERS)), dtype=np.int64)
    stream_counts = np.zeros((streams, len(STREAM_COUNTERS)), dtype=np.int64)
    done_cycle = np.zeros(n, dtype=np.int64)
    return (order, channel_start, bank_id, row, is_write, arrival, stream,
            np.int64(dram.ranks), np.int64(dram.banks), np.int64(dram.bank_groups),
            timing.vector(), np.int64(window),
            channel_counts, stream_counts, done_cycle)


def _check_requests(addresses, is_write, arrival, stream):
    addresses = np.asarray(addresses)
    if addresses.dtype.kind == "i" and addresses.size and addresses.min() < 0:
        raise ValueError("simulate_dram: negative byte address")
    addresses = np.ascontiguousarray(addresses, dtype=np.uint64).ravel()
    n = addresses.shape[0]
    arrival = np.zeros(n, dtype=np.int64) if arrival is None else arrival
    stream = np.zeros(n, dtype=np.uint8) if stream is None else np.asarray(stream)
    if stream.size and (stream.min() < 0 or stream.max() > 255):
        raise ValueError("simulate_dram: stream ids must fit in uint8 (0..255)")
    is_write = np.ascontiguousarray(is_write).ravel()
    is_write = is_write.view(np.uint8) if is_write.dtype == np.bool_ else \
        (is_write != 0).astype(np.uint8)
    arrival = np.ascontiguousarray(arrival, dtype=np.int64).ravel()
    stream = np.ascontiguousarray(stream, dtype=np.uint8).ravel()
    for name, array in (("is_write", is_write), ("arrival", arrival), ("stream", stream)):
        if array.shape[0] != n:
            raise ValueError(f"simulate_dram: {name} has {array.shape[0]} entries, "
                             f"addresses {n}")
    if n and (arrival[0] < 0 or np.any(arrival[1:] < arrival[:-1])):
        raise ValueError("simulate_dram: arrival cycles must be non-negative and "
                         "non-decreasing")
    return addresses, is_write, arrival, stream


def _stats(dram: Dram, window: int, channel_counts: np.ndarray, stream_counts: np.ndarray,
           done_cycle: np.ndarray) -> DramStats:
    cycles = int(channel_counts[:, C_CYCLES].max()) if channel_counts.size else 0
    seconds = cycles * dram.tck_s
    burst_bits = dram.burst_bytes * 8
    refreshes = int(channel_counts[:, C_REFRESHES].sum())
    energy_pj = {
        "act": int(channel_counts[:, C_ACTS].sum()) * dram.act_energy_pj,
        "pre": int(channel_counts[:, C_PRES].sum()) * dram.pre_energy_pj,
        "read": int(channel_counts[:, C_READS].sum()) * dram.read_energy_pj_per_bit * burst_bits,
        "write": int(channel_counts[:, C_WRITES].sum()) * dram.write_energy_pj_per_bit
        * burst_bits,
        # Standby of every rank for the whole run.
        "background": dram.background_power_w * dram.channels * dram.ranks * seconds * 1e12,
        # refresh_power is a rank's average over tREFI: one REF costs refresh_power x tREFI.
        "refresh": refreshes * dram.refresh_power_w * dram.trefi_s * 1e12,
    }
    bursts = stream_counts[:, S_BURSTS]
    share = bursts / bursts.sum() if bursts.sum() else np.zeros(len(bursts))
    stream_energy = np.column_stack([
        stream_counts[:, S_ACTS] * dram.act_energy_pj,
        stream_counts[:, S_PRES] * dram.pre_energy_pj,
        stream_counts[:, S_READS] * dram.read_energy_pj_per_bit * burst_bits,
        stream_counts[:, S_WRITES] * dram.write_energy_pj_per_bit * burst_bits,
        share * energy_pj["background"],  # time-based energy split by bursts moved
        share * energy_pj["refresh"],
    ])
    per_channel = {name: channel_counts[:, k].copy() for k, name in enumerate(CHANNEL_COUNTERS)}
    per_channel["channel_cycles"] = per_channel.pop("cycles")
    per_stream = {f"stream_{name}": stream_counts[:, k].copy()
                  for k, name in enumerate(STREAM_COUNTERS)}
    return DramStats(standard=dram.standard, window=window, burst_bytes=dram.burst_bytes,
                     tck_s=dram.tck_s, cycles=cycles, **per_channel, **per_stream,
                     stream_energy_pj=stream_energy, energy_pj=energy_pj,
                     done_cycle=done_cycle)
