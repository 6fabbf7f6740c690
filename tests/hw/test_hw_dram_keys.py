"""The burst model's description keys (scheduler window, turnaround, bank groups): bad
values are one line naming the file and the key, exit 1."""

from pathlib import Path

import pytest

from accelsim.cli import main
from accelsim.hw import load_hardware

ROOT = Path(__file__).resolve().parents[2]
TRACE = str(ROOT / "traces" / "lenet300-dropback25.trace")


@pytest.mark.parametrize("lines, key", [
    (["scheduler_window = 0"], "dram.scheduler_window"),
    (['tWTR = "7.5 pJ"'], "dram.tWTR"),
    (["tRTW = 12"], "dram.tRTW"),
    (['tWTR_L = "1 ns"'], "dram.tWTR_L"),  # shorter than tWTR (2.5 ns)
    (['tCCD_L = "1 ns"'], "dram.tCCD_L"),
    (["bank_groups = 3"], "dram.bank_groups"),
    # an IDD set of the description's own part, idd5ab left out
    (['vdd = "1.2 V"', 'idd0 = "57 mA"', 'idd2n = "37 mA"', 'idd3n = "52 mA"',
      'idd4r = "168 mA"', 'idd4w = "150 mA"', 'device_width = "8 bit"'], "dram.idd5ab"),
    (['idd0 = "57 mW"'], "dram.idd0"),
    (['vdd = "1.2 V"', 'idd0 = "57 mA"', 'idd2n = "37 mA"', 'idd3n = "52 mA"',
      'idd4r = "40 mA"', 'idd4w = "150 mA"', 'idd5ab = "250 mA"', 'device_width = "8 bit"'],
     "dram.idd4r"),  # below active standby
    (['vdd = "1.2 V"', 'idd0 = "57 mA"', 'idd2n = "37 mA"', 'idd3n = "52 mA"',
      'idd4r = "168 mA"', 'idd4w = "150 mA"', 'idd5ab = "250 mA"', 'device_width = "24 bit"'],
     "dram.device_width"),
])
def test_bad_dram_key_is_one_line_naming_file_and_key(lines, key, tmp_path, capsys):
    description = tmp_path / "bad.toml"
    description.write_text('extends = "edge-lpddr4"\nname = "bad"\n\n[dram]\n'
                           'standard = "ddr4-3200"\n' + "\n".join(lines) + "\n")
    code = main(["simulate", TRACE, "--hw", str(description), "--steps", "1:2",
                 "--out", str(tmp_path / "out.json")])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 1
    assert len(err) == 1 and err[0].startswith("accelsim: error: "), err
    assert "bad.toml" in err[0] and key in err[0], err[0]
    assert not (tmp_path / "out.json").exists()


def test_standards_give_turnaround_and_bank_groups():
    ddr4 = load_hardware("edge-lpddr4").replace({"dram.standard": "ddr4-3200"}).dram
    assert (ddr4.bank_groups, ddr4.scheduler_window) == (4, 32)
    # DRAMsim3 DDR4_8Gb_x8_3200.ini in nCK of 0.625 ns: CWL 16, tWTR_S 4, tWTR_L 12,
    # tCCD_L 8, tRRD_L 8; tRTW 12 = RL 22 + BL/2 4 - WL 16 + 2 (JEDEC JESD79-4).
    cycles = [round(value / ddr4.tck_s) for value in (
        ddr4.tcwl_s, ddr4.twtr_s, ddr4.twtr_l_s, ddr4.tccd_l_s, ddr4.trrd_l_s, ddr4.trtw_s)]
    assert cycles == [16, 4, 12, 8, 8, 12]
    lpddr4 = load_hardware("edge-lpddr4").dram
    assert lpddr4.bank_groups == 1 and lpddr4.tccd_l_s == lpddr4.tccd_s
    hbm2 = load_hardware("datacenter-hbm2").dram
    assert hbm2.bank_groups == 4 and round(hbm2.tcwl_s / hbm2.tck_s) == 4
