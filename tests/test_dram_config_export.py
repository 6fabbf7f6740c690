"""accelsim export --config-out: the DRAMsim3 ini and the Ramulator 2 YAML of a description,
in each simulator's own keys."""

from __future__ import annotations

import configparser
import math
from pathlib import Path

import numpy as np
import pytest

from accelsim.cli import main
from accelsim.errors import ConfigError
from accelsim.export.dram_config import dramsim3_ini, ramulator2_yaml
from accelsim.hw import load_hardware
from accelsim.sim.dram import DramTiming, decode_addresses

ROOT = Path(__file__).resolve().parents[1]
TRACE = str(ROOT / "traces" / "lenet300-dense.trace")

# Every (section, key) DRAMsim3's reader asks for: umd-memsys/DRAMsim3 src/configuration.cc
# (GetInteger/GetReal/Get calls, commit 2981759), thermal and HMC sections left out.
DRAMSIM3_READS = {
    "dram_structure": {"BL", "bankgroup_enable", "bankgroups", "banks_per_group", "columns",
                       "device_width", "hbm_dual_cmd", "num_dies", "protocol", "rows"},
    "timing": {"AL", "CL", "CWL", "ideal_memory_latency", "t32AW", "tCCD_L", "tCCD_S", "tCK",
               "tCKE", "tCKESR", "tFAW", "tPPD", "tRAS", "tRCD", "tRCDRD", "tRCDWR", "tREFI",
               "tREFIb", "tRFC", "tRFCb", "tRP", "tRPRE", "tRRD_L", "tRRD_S", "tRTP", "tRTRS",
               "tWPRE", "tWR", "tWTR_L", "tWTR_S", "tXP", "tXS"},
    "power": {"IDD0", "IDD2N", "IDD2P", "IDD3N", "IDD3P", "IDD4R", "IDD4W", "IDD5AB",
              "IDD5PB", "IDD6x", "VDD"},
    "system": {"address_mapping", "aggressive_precharging_enabled", "bus_width",
               "channel_size", "channels", "cmd_queue_size", "enable_self_refresh",
               "queue_structure", "refresh_policy", "row_buf_policy", "sref_threshold",
               "trans_queue_size", "unified_queue", "write_buf_size"},
    "other": {"epoch_period", "output_level", "output_prefix"},
}
# The keys of DRAMsim3's stock configs/DDR4_8Gb_x8_3200.ini that describe what accelsim's
# bank model and energy use (power-down, self-refresh, tRFC2/4 and tWR2 aside: not modelled).
STOCK_DDR4_MODELLED = {
    "dram_structure": {"protocol", "bankgroups", "banks_per_group", "rows", "columns",
                       "device_width", "BL"},
    "timing": {"tCK", "AL", "CL", "CWL", "tRCD", "tRP", "tRAS", "tRFC", "tREFI", "tRPRE",
               "tWPRE", "tRRD_S", "tRRD_L", "tWTR_S", "tWTR_L", "tFAW", "tWR", "tRTP",
               "tCCD_S", "tCCD_L", "tRTRS"},
    "power": {"VDD", "IDD0", "IDD2N", "IDD3N", "IDD4W", "IDD4R", "IDD5AB"},
    "system": {"channel_size", "channels", "bus_width", "address_mapping", "queue_structure",
               "refresh_policy", "row_buf_policy", "cmd_queue_size", "trans_queue_size"},
}


def _parse(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(inline_comment_prefixes=(";",), comment_prefixes=(";",))
    parser.optionxform = str  # DRAMsim3's keys are case-sensitive
    parser.read_string(text)
    return parser


@pytest.mark.parametrize("preset, changes", [
    ("edge-lpddr4", {}), ("datacenter-hbm2", {}),
    ("dropback-edge", {"dram.standard": "ddr4-3200"}),
    ("edge-lpddr4", {"dram.standard": "lpddr4-2400"}),
])
def test_the_ini_uses_dramsim3s_keys_and_all_the_stock_ones(preset, changes):
    ini = _parse(dramsim3_ini(load_hardware(preset).replace(changes)
                              if changes else load_hardware(preset)))
    for section in ini.sections():
        assert set(ini[section]) <= DRAMSIM3_READS[section], section  # no key it ignores
    for section, keys in STOCK_DDR4_MODELLED.items():
        assert keys <= set(ini[section]), (section, keys - set(ini[section]))


def test_the_ini_carries_the_descriptions_cycles_and_currents():
    hw = load_hardware("edge-lpddr4")
    dram, timing = hw.dram, DramTiming.from_dram(hw.dram)
    ini = _parse(dramsim3_ini(hw))
    t = ini["timing"]
    assert (int(t["CL"]), int(t["CWL"]), int(t["tRCD"]), int(t["tRAS"]), int(t["tREFI"])) == \
        (timing.tcl, timing.tcwl, timing.trcd, timing.tras, timing.trefi) == (32, 18, 29, 68, 6247)
    # DRAMsim3's read-to-write gap RL + BL/2 - WL + tRTRS (timing.cc) is accelsim's tRTW
    assert int(t["CL"]) + dram.burst_length // 2 - int(t["CWL"]) + int(t["tRTRS"]) == timing.trtw
    s = ini["dram_structure"]
    # page = columns x device_width / 8 per device, x devices = accelsim's row
    devices = int(ini["system"]["bus_width"]) // int(s["device_width"])
    assert int(s["columns"]) * int(s["device_width"]) // 8 * devices == dram.row_size_bytes
    assert float(ini["power"]["IDD4R"]) == dram.idd4r_ma == 243
    assert ini["system"]["address_mapping"] == "rorababgcoch"  # row:rank:bank:column:channel


def test_hbm_columns_count_the_prefetch_pair():
    hw = load_hardware("datacenter-hbm2")
    s = _parse(dramsim3_ini(hw))["dram_structure"]
    # DRAMsim3 doubles an HBM column (configuration.cc): 64 x 2 x 128 bit = the 2 KiB row
    assert int(s["columns"]) * 2 * 128 // 8 == hw.dram.row_size_bytes == 2048


def test_config_out_writes_the_ini_beside_the_trace(tmp_path, capsys):
    out, ini = tmp_path / "step.dramsim3", tmp_path / "step.ini"
    code = main(["export", TRACE, "--hw", "edge-lpddr4", "--format", "dramsim3", "--steps",
                 "100:101", "--out", str(out), "--config-out", str(ini)])
    assert code == 0
    assert ini.read_text() == dramsim3_ini(load_hardware("edge-lpddr4"))
    assert f"DRAMsim3 ini {ini}" in capsys.readouterr().out


@pytest.mark.parametrize("args, words", [
    (["--format", "chrome"], "--config-out"),
    (["--format", "dramsim3", "--hw", "scalesim-32x32-ws"], "dram.standard"),
])
def test_config_out_refusals_are_one_line(tmp_path, capsys, args, words):
    hw = ["--hw", "edge-lpddr4"] if "--hw" not in args else []
    code = main(["export", TRACE, *hw, *args, "--steps", "100:101",
                 "--out", str(tmp_path / "o"), "--config-out", str(tmp_path / "c.ini")])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 1 and len(err) == 1 and words in err[0], err
    assert not (tmp_path / "c.ini").exists() and not (tmp_path / "o").exists()


# --- Ramulator 2 -------------------------------------------------------------------------------
# What Ramulator 2 at commit be93be7 (src/dram/impl/*.cpp) reads per DRAM model: the
# organisation levels (m_levels) with channel_width, dq and density, and every m_timings
# entry but tCK_ps, which it derives from rate.
RAMULATOR_LEVELS = {
    "DDR4": ("channel", "rank", "bankgroup", "bank", "row", "column"),
    "DDR3": ("channel", "rank", "bank", "row", "column"),
    "HBM2": ("channel", "pseudochannel", "bankgroup", "bank", "row", "column"),
}
RAMULATOR_TIMINGS = {
    "DDR4": ("rate", "nBL", "nCL", "nRCD", "nRP", "nRAS", "nRC", "nWR", "nRTP", "nCWL",
             "nCCDS", "nCCDL", "nRRDS", "nRRDL", "nWTRS", "nWTRL", "nFAW", "nRFC", "nREFI",
             "nCS"),
    "DDR3": ("rate", "nBL", "nCL", "nRCD", "nRP", "nRAS", "nRC", "nWR", "nRTP", "nCWL", "nCCD",
             "nRRD", "nWTR", "nFAW", "nRFC", "nREFI", "nCS"),
    "HBM2": ("rate", "nBL", "nCL", "nRCDRD", "nRCDWR", "nRP", "nRAS", "nRC", "nWR", "nRTPS",
             "nRTPL", "nCWL", "nCCDS", "nCCDL", "nRRDS", "nRRDL", "nWTRS", "nWTRL", "nRTW",
             "nFAW", "nRFC", "nRFCSB", "nREFI", "nREFISB", "nRREFD"),
}
PREFETCH = {"DDR4": 8, "DDR3": 8, "HBM2": 2}  # m_internal_prefetch_size
RAMULATOR_DRAMS = [
    ("edge-lpddr4", {}), ("datacenter-hbm2", {}),
    ("dropback-edge", {"dram.standard": "ddr4-3200"}),
    ("edge-lpddr4", {"dram.standard": "lpddr4-2400"}),
    ("edge-lpddr4", {"dram.standard": "ddr3-1600",  # 2 ranks
                     "dram.address_mapping": "row:bank:rank:column:channel"}),
    ("edge-lpddr4", {"dram.standard": "ddr4-2400", "dram.address_mapping":
                     "channel:rank:bank:row:column", "dram.bank_groups": 1}),
]


def _hw(preset, changes):
    return load_hardware(preset).replace(changes) if changes else load_hardware(preset)


def _yaml(hw, trace_path="TRACE"):
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load(ramulator2_yaml(hw, trace_path))


@pytest.mark.parametrize("preset, changes", RAMULATOR_DRAMS)
def test_the_yaml_has_ramulators_sections_and_every_key_its_model_reads(preset, changes):
    config = _yaml(_hw(preset, changes), "step 100.ramulator")
    assert config["Frontend"]["impl"] == "LoadStoreTrace"
    assert config["Frontend"]["path"] == "step 100.ramulator"
    system = config["MemorySystem"]
    assert system["impl"] == "GenericDRAM" and system["clock_ratio"] == 1
    assert system["Controller"] == {"impl": "Generic", "Scheduler": {"impl": "FRFCFS"},
                                    "RefreshManager": {"impl": "AllBank"},
                                    "RowPolicy": {"impl": "OpenRowPolicy"}}
    model = system["DRAM"]["impl"]
    # every key is one the model reads, every timing is given (no preset to fill one in)
    assert set(system["DRAM"]["org"]) == {"channel_width", "dq", "density",
                                          *RAMULATOR_LEVELS[model]}
    assert tuple(system["DRAM"]["timing"]) == RAMULATOR_TIMINGS[model]
    assert system["AddrMapper"]["impl"] in ("RoBaRaCoCh", "ChRaBaRoCo")


@pytest.mark.parametrize("preset, changes", RAMULATOR_DRAMS)
def test_the_yaml_passes_ramulators_density_check_and_moves_accelsims_bursts(preset, changes):
    hw = _hw(preset, changes)
    dram = hw.dram
    system = _yaml(hw)["MemorySystem"]
    model, org = system["DRAM"]["impl"], system["DRAM"]["org"]
    # set_organization: the product of the levels below the rank, x dq, in Mb, is density
    below = [org[level] for level in RAMULATOR_LEVELS[model][2:]]
    if model == "HBM2":
        below.insert(0, org["pseudochannel"])
    assert math.prod(below) * org["dq"] >> 20 == org["density"]
    # linear_mappers.cpp: a transaction is prefetch x channel_width / 8 bytes
    assert PREFETCH[model] * org["channel_width"] // 8 == dram.burst_bytes
    assert org["column"] * org["channel_width"] // 8 == dram.row_size_bytes
    # tCK_ps = 1e6 / (rate / 2) (integer rate / 2), in whole ps of accelsim's clock
    rate = system["DRAM"]["timing"]["rate"]
    assert int(1e6 / (rate // 2)) == int(dram.tck_s * 1e12 + 1e-6)


def _ramulator_fields(addresses, config):
    """Ramulator 2's linear_mappers.cpp apply(), in accelsim's field names."""
    system = config["MemorySystem"]
    model, org = system["DRAM"]["impl"], system["DRAM"]["org"]
    levels = RAMULATOR_LEVELS[model]
    bits = [org[level].bit_length() - 1 for level in levels]
    bits[-1] -= PREFETCH[model].bit_length() - 1
    tx_bits = (PREFETCH[model] * org["channel_width"] // 8).bit_length() - 1
    fields = []
    for address in addresses:
        rest, vec = int(address) >> tx_bits, [0] * len(levels)
        if system["AddrMapper"]["impl"] == "ChRaBaRoCo":
            order = range(len(levels) - 1, -1, -1)
        else:  # RoBaRaCoCh: channel, column, then rank .. row upwards
            order = [0, len(levels) - 1, *range(1, levels.index("row") + 1)]
        for level in order:  # slice_lower_bits
            vec[level] = rest & ((1 << bits[level]) - 1)
            rest >>= bits[level]
        named = dict(zip(levels, vec, strict=True))
        groups = org.get("bankgroup", 1)
        fields.append((named["channel"], named.get("rank", 0),
                       named["bank"] * groups + named.get("bankgroup", 0), named["row"],
                       named["column"]))
    return fields


@pytest.mark.parametrize("preset, changes", RAMULATOR_DRAMS)
def test_ramulators_mapper_cuts_addresses_as_accelsim_does(preset, changes):
    hw = _hw(preset, changes)
    rng = np.random.default_rng(7)
    addresses = rng.integers(0, 1 << 30, 2000, dtype=np.uint64) & ~np.uint64(
        hw.dram.burst_bytes - 1)
    ours = decode_addresses(hw.dram, addresses)
    expected = list(zip(*(ours[f].tolist() for f in ("channel", "rank", "bank", "row",
                                                     "column")), strict=True))
    assert _ramulator_fields(addresses, _yaml(hw)) == expected


@pytest.mark.parametrize("preset, changes, model", [
    ("dropback-edge", {"dram.standard": "ddr4-3200"}, "DDR4"),
    ("edge-lpddr4", {}, "DDR4"),  # no LPDDR4 model at that commit: its DDR4 one
])
def test_the_yaml_carries_dramtimings_cycles(preset, changes, model):
    hw = _hw(preset, changes)
    t = DramTiming.from_dram(hw.dram)
    dram = _yaml(hw)["MemorySystem"]["DRAM"]
    assert dram["impl"] == model
    assert dram["timing"] == {
        "rate": round(2 / hw.dram.tck_s / 1e6), "nBL": t.burst_cycles, "nCL": t.tcl,
        "nRCD": t.trcd, "nRP": t.trp, "nRAS": t.tras, "nRC": t.tras + t.trp, "nWR": t.twr,
        "nRTP": t.trtp, "nCWL": t.tcwl, "nCCDS": t.tccd, "nCCDL": t.tccd_l, "nRRDS": t.trrd,
        "nRRDL": t.trrd_l, "nWTRS": t.twtr, "nWTRL": t.twtr_l, "nFAW": t.tfaw,
        "nRFC": t.trfc, "nREFI": t.trefi, "nCS": 0}
    if changes:  # DDR4-3200AA 22-22-22 at 0.625 ns
        assert (t.tcl, t.trcd, t.tccd_l, t.trfc, dram["org"]["bankgroup"]) == (22, 22, 8, 560, 4)
    else:  # LPDDR4-3200: BL16 holds the bus 8 cycles
        assert (t.tcl, t.trcd, t.burst_cycles, t.trefi) == (32, 29, 8, 6247)


def test_an_address_mapping_ramulator_lacks_is_refused():
    hw = load_hardware("edge-lpddr4").replace({"dram.address_mapping": "row:column:bank"})
    with pytest.raises(ConfigError, match="dram.address_mapping"):
        ramulator2_yaml(hw)
    # ChRaBaRoCo cuts the bank group above the bank; accelsim's group is its low bits
    hw = load_hardware("dropback-edge").replace({"dram.standard": "ddr4-3200",
                                                 "dram.address_mapping":
                                                     "channel:rank:bank:row:column"})
    with pytest.raises(ConfigError, match="dram.address_mapping"):
        ramulator2_yaml(hw)


def test_config_out_writes_the_yaml_beside_the_trace(tmp_path, capsys):
    out, config = tmp_path / "step.ramulator", tmp_path / "step.yaml"
    code = main(["export", TRACE, "--hw", "edge-lpddr4", "--format", "ramulator", "--steps",
                 "100:101", "--out", str(out), "--config-out", str(config)])
    assert code == 0
    # the trace path is relative to the YAML's folder, where ramulator2 runs
    assert config.read_text() == ramulator2_yaml(load_hardware("edge-lpddr4"), "step.ramulator")
    assert f"Ramulator 2 YAML {config}" in capsys.readouterr().out
    assert out.read_text().startswith("LD 0x")


@pytest.mark.parametrize("hw_text, hw_name, words", [
    ('extends = "edge-lpddr4"\n[dram]\naddress_mapping = "row:column:bank"\n', "bad.toml",
     "dram.address_mapping"),
    (None, "scalesim-32x32-ws", "dram.standard"),
])
def test_ramulator_config_out_refusals_are_one_line(tmp_path, capsys, hw_text, hw_name, words):
    hw = hw_name
    if hw_text is not None:
        hw = str(tmp_path / hw_name)
        Path(hw).write_text(hw_text)
    code = main(["export", TRACE, "--hw", hw, "--format", "ramulator", "--steps", "100:101",
                 "--out", str(tmp_path / "o"), "--config-out", str(tmp_path / "c.yaml")])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 1 and len(err) == 1 and words in err[0] and hw_name in err[0], err
    assert not (tmp_path / "c.yaml").exists() and not (tmp_path / "o").exists()
