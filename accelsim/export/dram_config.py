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

Ramulator 2 is not written: its configuration moved from YAML to Python (gem5-style
objects) in its current sources, and a YAML for the older release could not be checked
against that release here; ``--config-out`` with ``--format ramulator`` says so.
"""

from __future__ import annotations

from accelsim.errors import ConfigError
from accelsim.hw import Hardware
from accelsim.sim.dram import DramTiming

CONFIG_FORMATS = ("dramsim3",)
# accelsim standard -> DRAMsim3 protocol
_PROTOCOL = {"ddr4-2400": "DDR4", "ddr4-3200": "DDR4", "lpddr4-2400": "LPDDR4",
             "lpddr4-3200": "LPDDR4", "hbm2": "HBM2", "ddr3-1600": "DDR3"}
_DRAMSIM3_FIELDS = {"row": "ro", "rank": "ra", "bank": "babg", "column": "co", "channel": "ch"}
# Rows per bank: accelsim gives no row count (a row field below the top is 16 bits wide);
# DRAMsim3's HBM2_8Gb_x128.ini has 32 Ki rows of 2 KiB per bank (8 Gb per channel)
_ROWS = {"hbm2": 32768}
_DEFAULT_ROWS = 65536


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


def config_text(hw: Hardware, fmt: str) -> str:
    """The configuration of ``fmt`` (one of CONFIG_FORMATS) for ``hw``."""
    if fmt == "dramsim3":
        return dramsim3_ini(hw)
    raise ConfigError(f"--config-out: written for --format dramsim3 only, not {fmt} "
                      "(Ramulator 2's configuration: docs/export.md)")

