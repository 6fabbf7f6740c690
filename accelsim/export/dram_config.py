"""The DRAMsim3 ini and Ramulator 2 YAML that describe a description's DRAM (``--config-out``).

Written beside an exported request trace, so the other simulator serves it on the DRAM
accelsim modelled: the same timings (in the description's clock cycles, each rounded up
as accelsim's bank model does: accelsim.sim.dram.DramTiming), organisation, address
mapping and IDD currents.

DRAMsim3 (umd-memsys/DRAMsim3, configuration.cc reads these keys; the stock configs/*.ini
use the same names): DRAMsim3 derives its read-to-write gap as RL + BL/2 - WL + tRTRS
(timing.cc) and has no key for it, so ``tRTRS`` is written such that the gap is accelsim's
``tRTW`` (with one rank there is no rank switch for it to delay otherwise). Its HBM
"column" is two device columns (the prefetch, configuration.cc), so an HBM row of R bytes
is ``R * 8 / device_width / 2`` columns there. ``unified_queue = True``: its split-queue
controller can stall on streams with a read and a write of one burst close together
(docs/validation.md). accelsim's bank group is the low bits of the bank number, DRAMsim3's
``bg`` its own field: accelsim's ``bank`` is written ``babg`` (bank-group bits lowest).

Ramulator 2 (CMU-SAFARI/ramulator2) at ``RAMULATOR2_COMMIT``, its last release configured
by a YAML file (``./ramulator2 -f FILE``; later sources configure runs in Python). Its
DRAM models take the organisation under ``org`` and, with no preset, every timing as a
cycle count under ``timing`` (``nCL`` ...; src/dram/impl/*.cpp, set_timing_vals: the
keys overwrite what it derives), except the clock: tCK_ps = 1e6 / (rate / 2), so
``rate`` is written 2 / tCK in MT/s. Its linear address mappers cut the address above
a transaction of prefetch x ``channel_width`` / 8 bytes (linear_mappers.cpp; the width
is read for nothing else), so ``channel_width`` is written to make that transaction
accelsim's burst and ``column`` (device columns) to make a row accelsim's row, which
puts every field on accelsim's bits. That release has no LPDDR4 model: LPDDR4 runs on
its DDR4 model, which has the same constraint set accelsim's bank model uses. Clock
domain: the memory system's clock_ratio is 1, so its cycles (``memory_system_cycles``)
are the description's DRAM clock; the frontend's is ``dram.channels``, up to one request
per channel per memory cycle. Checked by running the files on that commit: request
counts equal accelsim's, serve times in docs/export.md ("Feeding Ramulator 2").
"""

from __future__ import annotations

import json

from accelsim.errors import ConfigError
from accelsim.hw import Hardware
from accelsim.sim.dram import ROW_BITS_BELOW_TOP, DramTiming

CONFIG_FORMATS = ("dramsim3", "ramulator")
# accelsim standard -> DRAMsim3 protocol
_PROTOCOL = {"ddr4-2400": "DDR4", "ddr4-3200": "DDR4", "lpddr4-2400": "LPDDR4",
             "lpddr4-3200": "LPDDR4", "hbm2": "HBM2", "ddr3-1600": "DDR3"}
_DRAMSIM3_FIELDS = {"row": "ro", "rank": "ra", "bank": "babg", "column": "co", "channel": "ch"}
# Rows per bank: accelsim gives no row count (a row field below the top is 16 bits wide);
# DRAMsim3's HBM2_8Gb_x128.ini has 32 Ki rows of 2 KiB per bank (8 Gb per channel)
_ROWS = {"hbm2": 32768}
_DEFAULT_ROWS = 65536

# Ramulator 2's last YAML-configured commit (CMU-SAFARI/ramulator2, branch legacy/v2.0a,
# the parent of 38c51d4), the one ramulator2_yaml's files were run on (docs/export.md)
RAMULATOR2_COMMIT = "be93be78055d922aa1d4d33e15bcc8f2b0c61a9d"
# accelsim standard -> Ramulator 2 DRAM model (it has no LPDDR4 one: its DDR4 model)
_RAMULATOR_DRAM = {"ddr4-2400": "DDR4", "ddr4-3200": "DDR4", "lpddr4-2400": "DDR4",
                   "lpddr4-3200": "DDR4", "hbm2": "HBM2", "ddr3-1600": "DDR3"}
# Each model's m_internal_prefetch_size: device columns one transaction moves
_RAMULATOR_PREFETCH = {"DDR4": 8, "DDR3": 8, "HBM2": 2}
# Device densities (Mb) each model's tRFC table has an entry for: set_timing_vals indexes
# it with any other out of bounds (before nRFC is overwritten)
_RAMULATOR_DENSITIES = {"DDR4": (2048, 4096, 8192, 16384), "HBM2": (2048, 4096, 8192, 16384),
                        "DDR3": (1024, 2048, 4096, 8192)}
# Its linear address mappers (linear_mappers.cpp), fields most significant first.
# RoBaRaCoCh cuts the bank group below the bank, as accelsim does (a group is the low bits
# of the bank number); ChRaBaRoCo cuts it above, so it matches only without bank groups.
_RAMULATOR_MAPPERS = {"RoBaRaCoCh": ("row", "bank", "rank", "column", "channel"),
                      "ChRaBaRoCo": ("channel", "rank", "bank", "row", "column")}


def _timing_and_protocol(hw: Hardware) -> tuple[DramTiming, str]:
    dram = hw.dram
    if dram.is_ideal:
        raise ConfigError(f"{hw.source or hw.name}: dram.standard: --config-out needs a "
                          'timed DRAM; "ideal" has no timing or organisation to write')
    if dram.device_width_bits is None:
        raise ConfigError(f"{hw.source or hw.name}: dram.device_width: --config-out needs "
                          "the devices' width (an IDD set); this description prices DRAM "
                          "flat without one")
    return DramTiming.from_dram(dram), _PROTOCOL[dram.standard]


def _columns(hw: Hardware, protocol: str) -> int:
    dram = hw.dram
    devices = dram.bus_width_bits // dram.device_width_bits
    columns = dram.row_size_bytes * 8 // (devices * dram.device_width_bits)
    return columns // 2 if protocol.startswith("HBM") else columns


def dramsim3_ini(hw: Hardware) -> str:
    """The DRAMsim3 ini of ``hw``'s DRAM (one string, the file's text)."""
    dram = hw.dram
    timing, protocol = _timing_and_protocol(hw)
    devices = dram.bus_width_bits // dram.device_width_bits
    page_bytes = dram.row_size_bytes // devices
    rows = _ROWS.get(dram.standard, _DEFAULT_ROWS)
    megs_per_rank = page_bytes * rows * dram.banks * devices // (1 << 20)
    rtrs = timing.trtw - (timing.tcl + timing.burst_cycles - timing.tcwl)
    if rtrs < 0:
        raise ConfigError(f"{hw.source or hw.name}: dram.tRTW: {timing.trtw} cycles is "
                          "shorter than CL + BL/2 - CWL, which DRAMsim3 cannot express")
    mapping = "".join(_DRAMSIM3_FIELDS[field] for field in dram.address_mapping)
    tck_ns = dram.tck_s * 1e9
    cycles = {
        "AL": 0, "CL": timing.tcl, "CWL": timing.tcwl, "tRCD": timing.trcd,
        "tRCDRD": timing.trcd, "tRCDWR": timing.trcd, "tRP": timing.trp, "tRAS": timing.tras,
        "tRFC": timing.trfc, "tREFI": timing.trefi, "tRPRE": 1, "tWPRE": 1,
        "tRRD_S": timing.trrd, "tRRD_L": timing.trrd_l, "tWTR_S": timing.twtr,
        "tWTR_L": timing.twtr_l, "tFAW": timing.tfaw, "tWR": timing.twr, "tRTP": timing.trtp,
        "tCCD_S": timing.tccd, "tCCD_L": timing.tccd_l, "tRTRS": rtrs,
    }
    power = {"VDD": dram.vdd_v, "IDD0": dram.idd0_ma, "IDD2N": dram.idd2n_ma,
             "IDD3N": dram.idd3n_ma, "IDD4W": dram.idd4w_ma, "IDD4R": dram.idd4r_ma,
             "IDD5AB": dram.idd5ab_ma}
    lines = [
        f"; accelsim --config-out: {hw.name}, dram.standard = {dram.standard!r}; timings in "
        f"its {tck_ns:.6g} ns clock cycles",
        f"; tRTRS = tRTW {timing.trtw} - (CL + BL/2 - CWL): DRAMsim3's read-to-write gap "
        "is accelsim's",
        "[dram_structure]",
        f"protocol = {protocol}",
        f"bankgroups = {dram.bank_groups}",
        f"banks_per_group = {dram.banks // dram.bank_groups}",
        f"rows = {rows}",
        f"columns = {_columns(hw, protocol)}",
        f"device_width = {dram.device_width_bits}",
        f"BL = {dram.burst_length}",
        "",
        "[timing]",
        f"tCK = {tck_ns:.6g}",
        *(f"{key} = {value}" for key, value in cycles.items()),
        "",
        "[power]",
        *(f"{key} = {value:g}" for key, value in power.items()),
    ]
    lines += [
        "",
        "[system]",
        f"channel_size = {megs_per_rank * dram.ranks}",
        f"channels = {dram.channels}",
        f"bus_width = {dram.bus_width_bits}",
        f"address_mapping = {mapping}",
        "queue_structure = PER_BANK",
        "refresh_policy = RANK_LEVEL_SIMULTANEOUS",
        "row_buf_policy = OPEN_PAGE",
        "cmd_queue_size = 8",
        "trans_queue_size = 32",
        "unified_queue = True",
        "",
        "[other]",
        "epoch_period = 1000000",
        "output_level = 1",
        "",
    ]
    return "\n".join(lines)


def _ramulator_mapper(hw: Hardware) -> str:
    """The Ramulator 2 mapper that cuts addresses as ``hw``'s address_mapping does."""
    dram = hw.dram
    counts = {"channel": dram.channels, "rank": dram.ranks, "bank": dram.banks, "row": 2,
              "column": dram.row_size_bytes // dram.burst_bytes}

    def fields(order: tuple[str, ...]) -> tuple[str, ...]:  # a field of one value has no bits
        return tuple(field for field in order if counts[field] > 1)

    for name, order in _RAMULATOR_MAPPERS.items():
        if fields(order) == fields(dram.address_mapping) and (
                name == "RoBaRaCoCh" or dram.bank_groups == 1):
            return name
    shown = ":".join(dram.address_mapping)
    raise ConfigError(f"{hw.source or hw.name}: dram.address_mapping: {shown!r} has no "
                      "Ramulator 2 address mapper (RoBaRaCoCh is row:bank:rank:column:channel; "
                      "ChRaBaRoCo, channel:rank:bank:row:column, with one bank group only)")


def _ramulator_org(hw: Hardware, model: str) -> dict[str, int]:
    """``org`` of the Ramulator 2 model: its transaction is accelsim's burst, its row
    accelsim's row, its row field 2**ROW_BITS_BELOW_TOP rows as accelsim's."""
    dram = hw.dram
    prefetch = _RAMULATOR_PREFETCH[model]
    columns = dram.row_size_bytes // dram.burst_bytes * prefetch
    rows = 1 << ROW_BITS_BELOW_TOP
    density_mb = dram.banks * rows * columns * dram.device_width_bits >> 20
    if density_mb not in _RAMULATOR_DENSITIES[model]:
        raise ConfigError(f"{hw.source or hw.name}: dram.row_size: {dram.banks} banks of "
                          f"{rows} rows of it make a {density_mb} Mb device, which Ramulator "
                          f"2's {model} model has no refresh timing for")
    if model == "DDR3" and dram.bank_groups != 1:
        raise ConfigError(f"{hw.source or hw.name}: dram.bank_groups: Ramulator 2's DDR3 "
                          f"model has none ({dram.bank_groups} here)")
    if model == "HBM2" and dram.ranks != 1:
        raise ConfigError(f"{hw.source or hw.name}: dram.ranks: Ramulator 2's HBM2 model "
                          f"has no ranks ({dram.ranks} here)")
    levels = {"channel": dram.channels}
    if model == "HBM2":
        levels |= {"pseudochannel": 1, "bankgroup": dram.bank_groups}  # legacy mode
    else:
        levels["rank"] = dram.ranks
    if model == "DDR4":
        levels["bankgroup"] = dram.bank_groups
    banks = dram.banks // dram.bank_groups if "bankgroup" in levels else dram.banks
    return {"channel_width": dram.burst_bytes * 8 // prefetch, "dq": dram.device_width_bits,
            "density": density_mb, **levels, "bank": banks, "row": rows, "column": columns}


def _ramulator_timing(hw: Hardware, model: str, timing: DramTiming) -> dict[str, int]:
    """``timing`` of the Ramulator 2 model in cycles (its keys; no preset)."""
    t = timing
    common = {"nBL": t.burst_cycles, "nCL": t.tcl, "nRCD": t.trcd, "nRP": t.trp,
              "nRAS": t.tras, "nRC": t.tras + t.trp, "nWR": t.twr, "nRTP": t.trtp,
              "nCWL": t.tcwl}
    refresh = {"nFAW": t.tfaw, "nRFC": t.trfc, "nREFI": t.trefi}
    if model == "DDR3":
        # nCS: the rank-to-rank gap, which accelsim does not model
        return {"rate": _ramulator_rate(hw), **common, "nCCD": t.tccd, "nRRD": t.trrd,
                "nWTR": t.twtr, **refresh, "nCS": 0}
    groups = {"nCCDS": t.tccd, "nCCDL": t.tccd_l, "nRRDS": t.trrd, "nRRDL": t.trrd_l,
              "nWTRS": t.twtr, "nWTRL": t.twtr_l}
    if model == "DDR4":
        return {"rate": _ramulator_rate(hw), **common, **groups, **refresh, "nCS": 0}
    # nRCDRD/WR and nRTPS/L: accelsim has one of each; the same-bank refresh keys are
    # required but unused (AllBank refresh issues no REFsb)
    return {"rate": _ramulator_rate(hw), "nBL": t.burst_cycles, "nCL": t.tcl,
            "nRCDRD": t.trcd, "nRCDWR": t.trcd, "nRP": t.trp, "nRAS": t.tras,
            "nRC": t.tras + t.trp, "nWR": t.twr, "nRTPS": t.trtp, "nRTPL": t.trtp,
            "nCWL": t.tcwl, **groups, "nRTW": t.trtw, "nFAW": t.tfaw, "nRFC": t.trfc,
            "nRFCSB": t.trfc, "nREFI": t.trefi, "nREFISB": t.trefi, "nRREFD": t.trrd}


def _ramulator_rate(hw: Hardware) -> int:
    """MT/s such that Ramulator's tCK_ps = 1e6 / (rate / 2) is the description's tCK."""
    return round(2 / hw.dram.tck_s / 1e6)


def ramulator2_yaml(hw: Hardware, trace_path: str = "TRACE") -> str:
    """The Ramulator 2 YAML (at RAMULATOR2_COMMIT) of ``hw``'s DRAM, serving the
    LoadStoreTrace at ``trace_path`` (one string, the file's text)."""
    dram = hw.dram
    timing, _ = _timing_and_protocol(hw)
    model = _RAMULATOR_DRAM[dram.standard]
    mapper = _ramulator_mapper(hw)
    org = _ramulator_org(hw, model)
    cycles = _ramulator_timing(hw, model, timing)
    rate = cycles["rate"]
    rd_to_wr = timing.tcl + timing.burst_cycles + 2 - timing.tcwl  # its RD -> WR constraint
    tck_ps = int(1e6 / (rate // 2))  # what Ramulator derives (set_timing_vals)
    notes = [
        f"# accelsim --config-out: {hw.name}, dram.standard = {dram.standard!r}",
        f"# For Ramulator 2 (CMU-SAFARI/ramulator2) at commit {RAMULATOR2_COMMIT},",
        "# its last YAML-configured release: run ./ramulator2 -f THIS_FILE in this file's",
        "# folder (the trace path is relative to it).",
        f"# Clock domain: every n* timing is in cycles of the DRAM clock, tCK = "
        f"{dram.tck_s * 1e9:.6g} ns",
        f"# (rate {rate} MT/s: Ramulator's tCK_ps = {tck_ps}); memory_system_cycles counts "
        "them. The",
        f"# frontend offers up to {dram.channels} request(s) per memory cycle (clock_ratio "
        f"{dram.channels} : 1).",
        f"# org: {_RAMULATOR_PREFETCH[model]} columns x channel_width is accelsim's "
        f"{dram.burst_bytes} B burst, a row its {dram.row_size_bytes} B row;",
        f"# {mapper} cuts addresses as dram.address_mapping does.",
    ]
    if dram.standard.startswith("lpddr4"):
        notes.append("# LPDDR4: no LPDDR4 model at this commit; its DDR4 model serves the "
                     "timings.")
    if rd_to_wr != timing.trtw:
        notes.append(f"# RD to WR: {model} derives nCL + nBL + 2 - nCWL = {rd_to_wr} cycles (no "
                     f"key); accelsim's tRTW is {timing.trtw}.")
    if model == "HBM2":
        notes.append("# HBM2: its AllBank refresh finds no rank level here and issues no REF.")
    lines = [
        *notes,
        "Frontend:",
        "  impl: LoadStoreTrace",
        f"  path: {json.dumps(trace_path)}",
        f"  clock_ratio: {dram.channels}",
        "",
        "MemorySystem:",
        "  impl: GenericDRAM",
        "  clock_ratio: 1",
        "",
        "  DRAM:",
        f"    impl: {model}",
        "    org:",
        *(f"      {key}: {value}" for key, value in org.items()),
        "    timing:",
        *(f"      {key}: {value}" for key, value in cycles.items()),
        "",
        "  Controller:",
        "    impl: Generic",
        "    Scheduler:",
        "      impl: FRFCFS",
        "    RefreshManager:",
        "      impl: AllBank",
        "    RowPolicy:",
        "      impl: OpenRowPolicy",
        "",
        "  AddrMapper:",
        f"    impl: {mapper}",
        "",
    ]
    return "\n".join(lines)


def config_text(hw: Hardware, fmt: str, *, trace_path: str = "TRACE") -> str:
    """The configuration of ``fmt`` (one of CONFIG_FORMATS) for ``hw``; a Ramulator 2
    YAML reads its requests from ``trace_path``."""
    if fmt == "dramsim3":
        return dramsim3_ini(hw)
    if fmt == "ramulator":
        return ramulator2_yaml(hw, trace_path)
    raise ConfigError(f"--config-out: written for --format dramsim3 or ramulator, not {fmt}")

