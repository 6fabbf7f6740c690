"""accelsim export --config-out: the DRAMsim3 ini of a description, in DRAMsim3's own keys."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

from accelsim.cli import main
from accelsim.export.dram_config import dramsim3_ini
from accelsim.hw import load_hardware
from accelsim.sim.dram import DramTiming

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
    (["--format", "ramulator"], "--config-out"),
    (["--format", "dramsim3", "--hw", "scalesim-32x32-ws"], "dram.standard"),
])
def test_config_out_refusals_are_one_line(tmp_path, capsys, args, words):
    hw = ["--hw", "edge-lpddr4"] if "--hw" not in args else []
    code = main(["export", TRACE, *hw, *args, "--steps", "100:101",
                 "--out", str(tmp_path / "o"), "--config-out", str(tmp_path / "c.ini")])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 1 and len(err) == 1 and words in err[0], err
    assert not (tmp_path / "c.ini").exists() and not (tmp_path / "o").exists()
