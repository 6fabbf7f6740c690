"""The burst-level DRAM model: address decoding, row-buffer behaviour, JEDEC constraints,
refresh, scheduling, energy accounting, and the kernel against its pure-Python self.

Timings quoted below are in clock cycles of the presets (accelsim/hw/dram_standards.py):
DDR4-3200: tRCD 22, tRP 22, tCL 22, tRAS 52, tCCD 4 (= BL8 / 2), tRRD 4, tFAW 34, tWR 24,
tRTP 12, tRFC 560, tREFI 12480; 16 banks, 8 KiB rows, 64-byte bursts (128 per row).
LPDDR4-3200: tCCD 8 (= BL16 / 2), tRFC 288, tREFI 6247; 8 banks, 4 KiB rows, 64-byte
bursts (64 per row).
"""

import numpy as np
import pytest

from accelsim.errors import ConfigError
from accelsim.hw import load_hardware
from accelsim.sim.dram import (
    CHANNEL_COUNTERS,
    ENERGY_COMPONENTS,
    ROW_HIT_CAP,
    DramTiming,
    bursts_for_extents,
    decode_addresses,
    dram_kernel,
    kernel_arguments,
    simulate_dram,
)


def dram(standard="ddr4-3200", **changes):
    edits = {"dram.standard": standard, **{f"dram.{k}": v for k, v in changes.items()}}
    return load_hardware("edge-lpddr4").replace(edits).dram


@pytest.fixture(scope="module")
def ddr4():
    return dram()


def reads(addresses):
    addresses = np.asarray(addresses, dtype=np.uint64)
    return addresses, np.zeros(addresses.size, dtype=bool)


def sequential(d, n):
    return np.arange(n, dtype=np.uint64) * np.uint64(d.burst_bytes)


# --- timing and address decoding -------------------------------------------------------------

def test_timings_round_up_to_whole_cycles(ddr4):
    timing = DramTiming.from_dram(ddr4)
    assert (timing.trcd, timing.trp, timing.tcl, timing.tras) == (22, 22, 22, 52)
    assert (timing.tccd, timing.burst_cycles, timing.tfaw, timing.trefi) == (4, 4, 34, 12480)
    # LPDDR4's tREFI is 6247 nCK, written as 3904.38 ns (6 significant figures): still 6247.
    assert DramTiming.from_dram(dram("lpddr4-3200")).trefi == 6247


def test_row_major_decode_puts_column_bits_lowest(ddr4):
    # row:bank:column over a 64-byte burst: column bits 6..12, bank 13..16, row from 17.
    row, bank, column = 5, 3, 7
    address = (row << 17) | (bank << 13) | (column << 6) | 13  # 13: a byte inside the burst
    fields = decode_addresses(ddr4, np.array([address], dtype=np.uint64))
    assert [int(fields[k][0]) for k in ("channel", "rank", "bank", "row", "column")] == \
        [0, 0, bank, row, column]


def test_bank_interleaved_decode_spreads_consecutive_bursts():
    d = dram(address_mapping="row:column:bank")
    fields = decode_addresses(d, sequential(d, 32))
    # Bank bits sit just above the burst offset: 16 consecutive bursts hit 16 banks, then
    # the column advances.
    assert fields["bank"].tolist() == list(range(16)) * 2
    assert fields["column"].tolist() == [0] * 16 + [1] * 16


def test_channels_and_ranks_decode():
    # hbm2 (8 channels, default mapping row:rank:bank:column:channel): channel lowest.
    hbm = load_hardware("datacenter-hbm2").dram
    assert decode_addresses(hbm, sequential(hbm, 16))["channel"].tolist() == list(range(8)) * 2
    # ddr3-1600 has 2 ranks; a left-out rank goes right after row, so the rank bit is the
    # one above bank: 8 KiB rows x 8 banks = 64 KiB per rank.
    ddr3 = dram("ddr3-1600")
    fields = decode_addresses(ddr3, np.array([0, 64 * 1024, 128 * 1024], dtype=np.uint64))
    assert fields["rank"].tolist() == [0, 1, 0] and fields["row"].tolist() == [0, 0, 1]


def test_non_power_of_two_organisation_is_rejected():
    with pytest.raises(ConfigError, match="dram.banks: 6 is not a power of two"):
        simulate_dram(dram(banks=6, bank_groups=2), *reads([0]))


def test_ideal_dram_is_rejected():
    ideal = load_hardware("scalesim-32x32-ws").dram
    assert ideal.is_ideal
    with pytest.raises(ConfigError, match="ideal"):
        simulate_dram(ideal, *reads([0]))


def test_bursts_for_extents():
    addresses, extent = bursts_for_extents([0, 60, 200, 4096], [128, 10, 0, 1], 64)
    # [0, 128): two bursts; [60, 70) straddles bursts 0 and 64; a zero-length extent moves
    # nothing; one byte at 4096 moves its whole burst.
    assert addresses.tolist() == [0, 64, 0, 64, 4096]
    assert extent.tolist() == [0, 0, 1, 1, 3]
    assert addresses.dtype == np.uint64


def test_bad_requests_are_rejected(ddr4):
    with pytest.raises(ValueError, match="non-decreasing"):
        simulate_dram(ddr4, *reads([0, 64]), np.array([5, 3]))
    with pytest.raises(ValueError, match="is_write has 1 entries"):
        simulate_dram(ddr4, np.array([0, 64], dtype=np.uint64), np.array([False]))


# --- row buffer, bandwidth, refresh ----------------------------------------------------------

@pytest.mark.parametrize("standard, mapping", [("ddr4-3200", "row:column:bank"),
                                               ("lpddr4-3200", "row:bank:column")])
def test_sequential_reads_hit_the_open_row_at_near_peak_bandwidth(standard, mapping):
    # DDR4 bank-interleaved: consecutive bursts change bank group, so tCCD_S (4 = one
    # burst) spaces them; LPDDR4 has no bank groups (row-major, one bank at a time).
    d = dram(standard, address_mapping=mapping)
    timing = DramTiming.from_dram(d)
    n = 100_000  # 6.4 MB: many refresh intervals (DDR4 ~33, LPDDR4 ~128)
    stats = simulate_dram(d, *reads(sequential(d, n)))
    # One ACT per row (row_size / burst = 128 bursts on DDR4, 64 on LPDDR4) plus one per
    # refresh (it closes the open row): DDR4 ~99.2 %, LPDDR4 ~98.3 % hits (measured 0.9919,
    # 0.9831).
    assert stats.row_hit_rate >= 0.98
    # Bursts back to back at tCCD = one burst; the only loss is refresh, tRFC / tREFI =
    # 4.5 % (DDR4) or 4.6 % (LPDDR4), and a row re-opened after each: measured 95.1 %, 94.4 %.
    assert stats.bus_utilisation >= 0.90
    assert stats.bandwidth_bytes_per_s >= 0.90 * d.peak_bandwidth_bytes_per_s
    # Refresh: one REF per elapsed tREFI (all due before the last data are issued).
    assert int(stats.refreshes.sum()) == stats.cycles // timing.trefi
    # Each REF blocks the rank for tRFC, so the data bus idles at least that long per REF.
    assert stats.cycles >= int(stats.bus_busy_cycles.sum()) + \
        int(stats.refreshes.sum()) * timing.trfc


def test_a_stream_in_one_bank_group_is_bound_by_tccd_l(ddr4):
    # Row-major DDR4: 128 consecutive bursts in one bank, so one bank group: served in
    # order (a window of one) column commands go tCCD_L = 8 apart, twice a burst: half the
    # peak (less refresh).
    n = 20_000
    grouped = simulate_dram(ddr4, *reads(sequential(ddr4, n)), window=1)
    assert 0.45 <= grouped.bus_utilisation <= 0.5
    # The default window (32) reaches into the next row, which row-major puts in the next
    # bank, another group: for the last 32 bursts of each row the two interleave at tCCD_S
    # (measured 61.7 % busy), still far from the peak.
    ahead = simulate_dram(ddr4, *reads(sequential(ddr4, n)))
    assert 0.55 <= ahead.bus_utilisation <= 0.7
    # The same stream on a DDR4 without bank groups runs at tCCD = one burst.
    flat = simulate_dram(dram(bank_groups=1), *reads(sequential(ddr4, n)))
    assert flat.bus_utilisation >= 0.9


def test_random_reads_miss_and_activate_per_request(ddr4):
    n = 50_000
    rng = np.random.default_rng(1)
    footprint = 1 << 32  # 4 GiB >> 16 banks x one open 8 KiB row (128 KiB)
    addresses = rng.integers(0, footprint, n, dtype=np.uint64) & ~np.uint64(63)
    stats = simulate_dram(ddr4, *reads(addresses))
    # A random burst finds its row open with probability ~ 128 KiB / 4 GiB = 3e-5.
    assert stats.row_hit_rate <= 0.05
    # Every request that does not hit pays an ACT.
    acts = int(stats.acts.sum())
    assert acts == n - int(stats.row_hits.sum()) and acts >= 0.95 * n
    # tFAW allows four ACTs per 34 cycles, so the bus is at most 4 x 4 / 34 = 47 % busy.
    assert stats.bus_utilisation <= 16 / 34


def test_refresh_blocks_the_rank_for_trfc(ddr4):
    # One read arriving when the first REF is due (tREFI = 12480): REF at 12480, ACT after
    # tRFC (560), RD tRCD (22) later, data tCL + burst (22 + 4) later.
    stats = simulate_dram(ddr4, *reads([0]), np.array([12480]))
    assert int(stats.refreshes[0]) == 1
    assert stats.done_cycle.tolist() == [12480 + 560 + 22 + 22 + 4]


def test_long_idle_gap_refreshes_every_trefi(ddr4):
    # Two reads 10 tREFI apart: the 10 REFs due in between are all issued.
    stats = simulate_dram(ddr4, *reads([0, 64]), np.array([0, 10 * 12480 + 100]))
    assert int(stats.refreshes[0]) == 10
    # All banks were closed by refresh: the second read misses (bank closed).
    assert (int(stats.row_hits[0]), int(stats.row_misses[0])) == (0, 2)


# --- timing constraints ----------------------------------------------------------------------

def test_write_to_read_turnaround_waits_twtr_after_the_write_data(ddr4):
    # WR to bank 0 at tRCD 22, data ends 22 + tCWL 16 + 4 = 42. A read of the same row
    # (same bank group) waits tWTR_L 12: RD 54, done 54 + tCL 22 + 4 = 80.
    same_group = simulate_dram(ddr4, np.array([0, 64], dtype=np.uint64),
                               np.array([True, False]))
    assert same_group.done_cycle.tolist() == [42, 80]
    # Bank 1 is in another group: ACT at tRRD_S 4, RD waits 42 + tWTR_S 4 = 46, done 72.
    other_group = simulate_dram(ddr4, np.array([0, 1 << 13], dtype=np.uint64),
                                np.array([True, False]))
    assert other_group.done_cycle.tolist() == [42, 72]
    # Two reads instead: the second goes tCCD_L 8 after the first (22), done 56.
    assert simulate_dram(ddr4, *reads([0, 64])).done_cycle.tolist() == [48, 56]


def test_read_to_write_turnaround_waits_trtw(ddr4):
    # RD at 22; a WR of the same row waits tRTW 12 (more than tCCD_L 8): WR 34, its data
    # ends 34 + tCWL 16 + 4 = 54.
    stats = simulate_dram(ddr4, np.array([0, 64], dtype=np.uint64), np.array([False, True]))
    assert stats.done_cycle.tolist() == [48, 54]
    no_turnaround = simulate_dram(dram(tRTW="0.625 ns"), np.array([0, 64], dtype=np.uint64),
                                  np.array([False, True]))
    # With a tRTW of one cycle, the shared data bus still holds the write back: its data
    # may not start before the read's ends (48), so WR at 48 - tCWL 16 = 32, done 52.
    assert no_turnaround.done_cycle.tolist() == [48, 52]


def test_the_scheduler_keeps_the_bus_direction_among_row_hits(ddr4):
    # R, W, R, W of one open row, all at cycle 0. FR-FCFS prefers a row hit in the
    # direction the bus is going: R0 (RD 22, done 48), R2 (RD 30, done 56), then W1 (WR at
    # R2 + tRTW 12 = 42, data ends 42 + 16 + 4 = 62) and W3 (50, done 70): one turnaround.
    addresses = np.arange(4, dtype=np.uint64) * np.uint64(64)
    writes = np.array([False, True, False, True])
    assert simulate_dram(ddr4, addresses, writes).done_cycle.tolist() == [48, 62, 56, 70]
    # In arrival order (a window of one) each request turns the bus round: W1 at 34 (done
    # 54), R2 at 54 + tWTR_L 12 = 66 (done 92), W3 at 66 + tRTW 12 = 78 (done 98).
    in_order = simulate_dram(ddr4, addresses, writes, window=1)
    assert in_order.done_cycle.tolist() == [48, 54, 92, 98]


def test_acts_in_one_bank_group_wait_trrd_l(ddr4):
    # Banks 0 and 4 share bank group 0 (the bank number's low two bits): ACT 0, then ACT
    # at tRRD_L 8, RD at 30, done 56; banks 0 and 1: ACT at tRRD_S 4, RD 26, done 52.
    assert simulate_dram(ddr4, *reads([0, 4 << 13])).done_cycle.tolist() == [48, 56]
    assert simulate_dram(ddr4, *reads([0, 1 << 13])).done_cycle.tolist() == [48, 52]


def test_precharge_after_write_waits_write_recovery(ddr4):
    same_bank_other_row = [0, 1 << 17]  # row-major: row bits start at 17
    write_first = simulate_dram(ddr4, np.array(same_bank_other_row, dtype=np.uint64),
                                np.array([True, False]))
    # WR: ACT 0, WR at tRCD = 22, last beat at 22 + tCWL 16 + 4 = 42, PRE at 42 + tWR 24 =
    # 66 (later than tRAS = 52), ACT 66 + tRP 22 = 88, RD 110, data done 110 + 26 = 136.
    assert write_first.done_cycle.tolist() == [42, 136]
    read_first = simulate_dram(ddr4, *reads(same_bank_other_row))
    # After a read the PRE waits only tRAS (52 > RD 22 + tRTP 12): ACT 74, RD 96, done 122.
    assert read_first.done_cycle.tolist() == [48, 122]
    assert (int(write_first.pres[0]), int(write_first.row_conflicts[0])) == (1, 1)


def test_precharge_after_late_read_waits_trtp(ddr4):
    # Row 0 opened at 0; a hit arrives at 100 (RD at 100); a conflict also at 100 must wait
    # for PRE at 100 + tRTP 12 = 112: ACT 134, RD 156, done 156 + 26 = 182.
    stats = simulate_dram(ddr4, *reads([0, 64, 1 << 17]), np.array([0, 100, 100]))
    assert stats.done_cycle.tolist() == [48, 126, 182]


def test_four_activate_window(ddr4):
    # Eight reads to eight banks (row-major: bank bits from 13), all at cycle 0. ACTs go
    # tRRD = 4 apart, but the fifth waits for the first + tFAW = 34: ACTs 0 4 8 12 34 38 42
    # 46; RDs at ACT + 22, no closer than 4 apart; data done 26 later.
    stats = simulate_dram(ddr4, *reads(np.arange(8) << 13))
    assert stats.done_cycle.tolist() == [48, 52, 56, 60, 82, 86, 90, 94]


def test_row_hits_go_first_within_the_window(ddr4):
    # A: bank 0 row 0, B: bank 0 row 1, C: bank 0 row 0. FR-FCFS serves A, C (a hit), B.
    addresses = np.array([0, 1 << 17, 64], dtype=np.uint64)
    stats = simulate_dram(ddr4, addresses, np.zeros(3, bool))
    # C: RD at 22 + tCCD_L 8 = 30 (same bank group), done 56. B: PRE at tRAS 52, ACT 74,
    # RD 96, done 122.
    assert stats.done_cycle.tolist() == [48, 122, 56]
    assert int(stats.row_hits[0]) == 1
    # A window of one is first-come first-served: B (122) then C reopens row 0: PRE at
    # B's ACT 74 + tRAS 52 = 126, ACT 148, RD 170, done 196.
    fcfs = simulate_dram(ddr4, addresses, np.zeros(3, bool), window=1)
    assert fcfs.done_cycle.tolist() == [48, 122, 196]
    assert int(fcfs.row_hits[0]) == 0
    # The description's dram.scheduler_window is the default window.
    described = simulate_dram(dram(scheduler_window=1), addresses, np.zeros(3, bool))
    assert described.window == 1 and described.done_cycle.tolist() == [48, 122, 196]


def test_first_ready_interleaves_two_bank_groups(ddr4):
    # Eight reads of bank 0's row 0, then eight of bank 1's (another bank group), all at 0.
    # ACT bank 0 at 0, bank 1 at tRRD_S 4. In arrival order each group's reads would go
    # tCCD_L 8 apart; first ready fills the gaps with the other group's at tCCD_S 4:
    # RDs 22, 26, 30, ... alternating, data done 26 later.
    addresses = np.concatenate([np.arange(8), (1 << 7) + np.arange(8)]) * 64
    stats = simulate_dram(ddr4, *reads(addresses))
    done = stats.done_cycle.tolist()
    assert done[:8] == [48 + 8 * k for k in range(8)]
    assert done[8:] == [52 + 8 * k for k in range(8)]
    # Served in order bank 0's reads go 8 apart and bank 1's start after them.
    in_order = simulate_dram(ddr4, *reads(addresses), window=1)
    assert in_order.done_cycle[:8].tolist() == done[:8]
    assert in_order.cycles > stats.cycles + 8 * 4


def test_an_older_conflict_closes_the_row_after_the_row_hit_cap(ddr4):
    # A0 opens bank 0's row 0; X (row 1, same bank) is older than A1..A6 (row 0). Row hits
    # go first while fewer than ROW_HIT_CAP (4) column commands have used the row: A1, A2,
    # A3; then X's PRE goes before the younger hits (as DRAMsim3's open-page controller
    # does), and A4 reopens row 0 for A5, A6.
    assert ROW_HIT_CAP == 4
    rows = [0, 1, 0, 0, 0, 0, 0, 0]
    addresses = np.array([(r << 17) + 64 * k for k, r in enumerate(rows)], dtype=np.uint64)
    stats = simulate_dram(ddr4, *reads(addresses))
    order = np.argsort(stats.done_cycle, kind="stable").tolist()
    assert order == [0, 2, 3, 4, 1, 5, 6, 7]
    assert (int(stats.row_hits[0]), int(stats.acts[0])) == (5, 3)


@pytest.mark.parametrize("standard", ["ddr4-3200", "lpddr4-3200"])
def test_bank_interleaving_beats_row_major_on_a_one_bank_stride(standard):
    n = 4000
    row_major = dram(standard, address_mapping="row:bank:column")
    # A stride of one row in every bank plus one burst (a matrix column walk with a
    # 128 KiB + 64 B pitch on DDR4): row-major keeps 128 accesses in a row on one bank, each
    # in a new row; row:column:bank turns the extra burst into the next bank.
    stride = row_major.row_size_bytes * row_major.banks + row_major.burst_bytes
    addresses = np.arange(n, dtype=np.uint64) * np.uint64(stride)
    timing = DramTiming.from_dram(row_major)
    in_order = simulate_dram(row_major, *reads(addresses), window=1)
    slow = simulate_dram(row_major, *reads(addresses))
    fast = simulate_dram(dram(standard, address_mapping="row:column:bank"), *reads(addresses))
    # Row-major: every access PRE + ACT on a busy bank, one tRC (tRAS + tRP: 74 cycles on
    # DDR4, 95 on LPDDR4) each when served in order (measured 76.8 and 98.3 per request,
    # refresh included). The column field carries into the bank after a row's worth of
    # bursts, so a window of 32 overlaps the last 32 of each bank's run with the next bank.
    tRC = timing.tras + timing.trp
    per_bank = row_major.row_size_bytes // row_major.burst_bytes
    assert int(slow.row_conflicts.sum()) >= 0.95 * n
    assert in_order.cycles >= 0.98 * n * tRC
    assert slow.cycles >= 0.98 * n * tRC * (per_bank - slow.window) / per_bank
    assert slow.cycles < in_order.cycles
    # Interleaved: ACTs on different banks limited by tFAW / 4 (8.5 DDR4) or tRRD (16 LPDDR4);
    # measured 8.8 and 16.9 per request.
    # over 4x faster than in order, 2.5x than row-major with the window's overlap
    # (measured 3.5x DDR4, 3.0x LPDDR4)
    assert fast.cycles * 4 < in_order.cycles and fast.cycles * 2.5 < slow.cycles
    assert fast.cycles <= 1.1 * n * max(timing.tfaw / 4, timing.trrd) + 2 * timing.trefi


# --- energy and accounting -------------------------------------------------------------------

def mixed_requests(n=20_000, seed=3):
    """Five streams: weights/metadata read sequentially, activations and gradients written
    and read in their own regions, optimizer state read-modify-written at random."""
    rng = np.random.default_rng(seed)
    stream = rng.integers(0, 5, n).astype(np.uint8)
    region = stream.astype(np.uint64) << np.uint64(28)  # 256 MiB apart
    offset = np.zeros(n, dtype=np.uint64)
    for s in range(5):
        chosen = stream == s
        offset[chosen] = np.arange(chosen.sum(), dtype=np.uint64) * np.uint64(64)
    random_state = stream == 4
    offset[random_state] = rng.integers(0, 1 << 26, random_state.sum(), dtype=np.uint64) \
        & ~np.uint64(63)
    is_write = (stream >= 2) & (rng.random(n) < 0.5)
    arrival = np.cumsum(rng.integers(0, 6, n)).astype(np.int64)
    return region + offset, is_write, arrival, stream


def test_per_stream_energy_and_counts_sum_to_the_totals(ddr4):
    addresses, is_write, arrival, stream = mixed_requests()
    stats = simulate_dram(ddr4, addresses, is_write, arrival, stream)
    # Every component (ACT, PRE, RD, WR from the commands each stream caused; background
    # and refresh split by bursts moved) adds up over the streams.
    assert np.allclose(stats.stream_energy_pj.sum(axis=0),
                       [stats.energy_pj[k] for k in ENERGY_COMPONENTS], rtol=1e-12)
    assert stats.stream_energy_pj.sum() == pytest.approx(stats.total_energy_pj, rel=1e-12)
    assert all(stats.energy_pj[k] > 0 for k in ("act", "read", "write", "background",
                                                "refresh"))
    assert int(stats.stream_bytes.sum()) == len(addresses) * 64
    assert int(stats.stream_acts.sum()) == int(stats.acts.sum())
    # PREs for refresh are charged to the stream that opened the row.
    assert int(stats.stream_pres.sum()) == int(stats.pres.sum())
    assert int(stats.stream_writes.sum()) == int(is_write.sum())
    # Energy of the reads and writes: bursts x 512 bits x pJ/bit.
    assert stats.energy_pj["read"] == pytest.approx(
        int(stats.reads.sum()) * 512 * ddr4.read_energy_pj_per_bit)
    # The random optimizer-state stream misses almost always (measured 99.7 %); the
    # sequential weight stream misses about once per row plus where the other streams' rows
    # (in the same banks: the regions are 256 MiB apart) closed its row (measured 10 %).
    miss_rate = 1 - stats.stream_row_hits / np.maximum(1, stats.stream_bursts)
    assert miss_rate[4] > 0.95 and miss_rate[4] > 5 * miss_rate[0]


def test_identical_input_gives_identical_output(ddr4):
    requests = mixed_requests(n=5000)
    first, second = (simulate_dram(ddr4, *requests) for _ in range(2))
    for name in (*CHANNEL_COUNTERS[:-2], "channel_cycles", "bus_busy_cycles",
                 "stream_bursts", "stream_acts", "stream_energy_pj", "done_cycle"):
        assert np.array_equal(getattr(first, name), getattr(second, name)), name
    assert first.energy_pj == second.energy_pj and first.cycles == second.cycles


@pytest.mark.parametrize("standard, ranks", [("ddr3-1600", 2), ("ddr4-3200", 2)])
def test_kernel_matches_its_python_self(standard, ranks):
    # Two channels of two ranks, reads and writes, idle gaps long enough for refreshes, and
    # a window of 4 so that reordering and the bypass limit occur; DDR4: bank groups.
    d = dram(standard, channels=2, ranks=ranks)
    addresses, is_write, arrival, stream = mixed_requests(n=400, seed=5)
    addresses = addresses % np.uint64(1 << 20)  # a small footprint: some hits, some conflicts
    arrival = arrival * 40  # ~100 cycles apart on average: ~6 tREFI over the run
    compiled = kernel_arguments(d, addresses, is_write, arrival, stream, 4)
    python = kernel_arguments(d, addresses, is_write, arrival, stream, 4)
    dram_kernel(*compiled)
    dram_kernel.py_func(*python)
    for ours, theirs in zip(compiled[-3:], python[-3:], strict=True):
        assert np.array_equal(ours, theirs)
    channel_counts = compiled[-3]
    refreshes = channel_counts[:, CHANNEL_COUNTERS.index("refreshes")]
    assert refreshes.sum() > 0 and channel_counts[:, 0].sum() > 0  # REFs and row hits
    assert (channel_counts[:, CHANNEL_COUNTERS.index("reads")] > 0).all()  # both channels


def test_empty_stream(ddr4):
    stats = simulate_dram(ddr4, *reads([]))
    assert stats.cycles == 0 and stats.total_energy_pj == 0 and stats.requests == 0
