"""Energy tables: the cited numbers come back at their points, lookups behave physically."""

import math

import numpy as np
import pytest

from accelsim.errors import ConfigError
from accelsim.hw import load_hardware
from accelsim.hw.energy import (
    DRAM_ENERGY_PER_BIT,
    ENERGY_TABLES,
    REGEN_DATAPATH,
    energy_table,
    mac_energy,
    mac_energy_pj,
    regen_energy_per_value,
    sram_access_energy_pj,
    sram_leakage_w,
)

KIB, MIB = 1024, 1024 * 1024


@pytest.mark.parametrize(("table", "capacity", "width", "cited_pj"), [
    ("horowitz-45nm", 8 * KIB, 64, 10.0),
    ("horowitz-45nm", 32 * KIB, 64, 20.0),
    ("horowitz-45nm", 1 * MIB, 64, 100.0),
    ("cacti-45nm", 8 * KIB, 32, 5.25),
    ("cacti-45nm", 32 * KIB, 32, 11.8),
    ("cacti-45nm", 1 * MIB, 32, 68.4),
    ("cacti-22nm", 8 * KIB, 32, 1.82),
    ("cacti-22nm", 32 * KIB, 32, 2.55),
    ("cacti-22nm", 1 * MIB, 32, 14.8),
    ("eyeriss-65nm", 128 * KIB, 64, 18.18),
])
def test_sram_energy_at_a_table_point_is_the_cited_number(table, capacity, width, cited_pj):
    assert sram_access_energy_pj(energy_table(table), capacity, width) == pytest.approx(cited_pj)


@pytest.mark.parametrize("name", list(ENERGY_TABLES))
def test_sram_energy_grows_with_capacity(name):
    capacities = np.logspace(math.log10(256), math.log10(64 * MIB), 200)
    energies = [sram_access_energy_pj(ENERGY_TABLES[name], c, 64) for c in capacities]
    assert all(b > a for a, b in zip(energies, energies[1:], strict=False))


def test_sram_energy_is_log_log_between_points_and_linear_in_width():
    table = energy_table("horowitz-45nm")
    # 16 KiB is the geometric middle of 8 and 32 KiB: the geometric middle of 10 and 20 pJ.
    assert sram_access_energy_pj(table, 16 * KIB, 64) == pytest.approx(math.sqrt(10 * 20))
    assert sram_access_energy_pj(table, 100 * KIB, 128) == pytest.approx(
        2 * sram_access_energy_pj(table, 100 * KIB, 64))
    # 32-bit reads of the Horowitz table are half its 64-bit numbers.
    assert sram_access_energy_pj(table, 8 * KIB, 32) == pytest.approx(5.0)


@pytest.mark.parametrize(("table", "dtype", "cited_pj"), [
    ("horowitz-45nm", "int8", 0.2 + 0.1),  # int8 mult + int32 add (the default accumulator)
    ("horowitz-45nm", "int32", 3.1 + 0.1),
    ("horowitz-45nm", "fp16", 1.1 + 0.9),  # fp16 mult + fp32 add (mixed precision)
    ("horowitz-45nm", "fp32", 3.7 + 0.9),
    ("eyeriss-65nm", "int8", 0.21),  # a whole cited MAC
])
def test_mac_energy_is_mult_plus_add_of_the_accumulator(table, dtype, cited_pj):
    assert mac_energy_pj(energy_table(table), dtype) == pytest.approx(cited_pj)


def test_mac_energy_follows_the_accumulator():
    table = energy_table("horowitz-45nm")
    assert mac_energy_pj(table, "fp16", "fp16") == pytest.approx(1.1 + 0.4)
    assert mac_energy_pj(table, "int8", "int8") == pytest.approx(0.2 + 0.03)
    assert "fp16 mult + fp32 add" in mac_energy(table, "fp16").source
    # A cited whole MAC holds only at the accumulator it was cited with.
    eyeriss = energy_table("eyeriss-65nm")
    assert "8-bit MAC" in mac_energy(eyeriss, "int8").source
    assert "int8 mult + fp32 add" in mac_energy(eyeriss, "int8", "fp32").source


def test_sram_leakage_interpolates_cacti_and_grows_with_capacity():
    table = energy_table("cacti-45nm")
    points = {p.capacity_bytes: p.power.value / 1e3 for p in table.sram_leakage}
    for capacity, watts in points.items():
        assert sram_leakage_w(table, capacity) == pytest.approx(watts)
    between = sram_leakage_w(table, 64 * 1024)
    assert points[32 * 1024] < between < points[128 * 1024]
    assert all("CACTI 7.0" in p.power.source for p in table.sram_leakage)
    # The low-power cells of the 65 nm table leak far less than 45 nm itrs-hp ones.
    assert sram_leakage_w(energy_table("eyeriss-65nm"), 128 * 1024) < between / 10


def test_derived_mac_energies_sit_where_their_derivation_says():
    table = energy_table("horowitz-45nm")
    assert mac_energy_pj(table, "int8") < mac_energy_pj(table, "int16") < mac_energy_pj(
        table, "int32")
    assert mac_energy_pj(table, "bf16") == mac_energy_pj(table, "fp16")
    assert "interpolated" in table.mac["int16"].source


def test_every_value_carries_its_source():
    for table in ENERGY_TABLES.values():
        values = [*table.mac.values(), *table.ops.values(), *table.relative.values(),
                  table.dram_per_bit, *(point.read for point in table.sram_read)]
        for value in values:
            assert value.source and value.unit, (table.name, value)


def test_dram_energy_per_bit_per_standard_is_accelergys():
    cited = {"lpddr4": 8.0, "hbm2": 6.25, "ddr3": 70.0, "lpddr": 40.0, "hbm3": 4.05}
    assert {name: value.value for name, value in DRAM_ENERGY_PER_BIT.items()} == cited


def test_ddr4_3200_energies_match_the_dramsim3_derived_reference():
    dram = load_hardware("edge-lpddr4").replace({"dram.standard": "ddr4-3200"}).dram
    # shared/reference/hardware.md: ~2.8 nJ per 64-byte read burst (~5.5 pJ/bit), ~4.2 nJ/ACT.
    assert dram.read_energy_pj_per_bit == pytest.approx(5.5, rel=0.02)
    assert dram.act_energy_pj == pytest.approx(4200, rel=0.01)


# DRAMsim3 configuration.cc InitPowerParams, written out by hand from the ini files' values
# (mA, V, clock counts; x devices per rank) so the derivation is checked, not restated.
IDD_REFERENCE = {
    # LPDDR4_8Gb_x16_2400.ini at the lpddr4-3200 timings (Ramulator nRAS 68, nRP 27 at
    # 0.625 ns), 2 x16 dies on 32 bit; its read/write per bit are the 2400 bin's (tCK 1/1.2)
    "edge-lpddr4": {"act_energy_pj": 1.2 * (80 * 95 - (47 * 68 + 34 * 27)) * 0.625 * 2,
                    "read_energy_pj_per_bit": 1.2 * (243 - 47) * 8 / 1.2 / 256,
                    "write_energy_pj_per_bit": 1.2 * (228 - 47) * 8 / 1.2 / 256,
                    "background_power_w": 1.2 * 47 * 2e-3,
                    "refresh_power_w": 1.2 * (280 - 47) * 288 / 6247 * 2e-3},
    # HBM2_8Gb_x128.ini, one 128-bit device per channel, tCK 1 ns
    "datacenter-hbm2": {"act_energy_pj": 1.2 * (65 * 48 - (55 * 34 + 40 * 14)),
                        "read_energy_pj_per_bit": 1.2 * (390 - 55) * 2 / 512,
                        "write_energy_pj_per_bit": 1.2 * (500 - 55) * 2 / 512,
                        "background_power_w": 1.2 * 55e-3,
                        "refresh_power_w": 1.2 * (250 - 55) * 260 / 3900 * 1e-3},
}


@pytest.mark.parametrize("preset", list(IDD_REFERENCE))
def test_presets_price_dram_from_the_idd_currents(preset):
    dram = load_hardware(preset).dram
    for field, expected in IDD_REFERENCE[preset].items():
        assert getattr(dram, field) == pytest.approx(expected, rel=1e-5), field
    assert dram.pre_energy_pj == 0  # IDD0's ACT-PRE cycle covers it


def test_lpddr4_2400_is_dramsim3s_file():
    dram = load_hardware("edge-lpddr4").replace({"dram.standard": "lpddr4-2400"}).dram
    tck = 1 / 1.2  # ns
    assert (dram.bus_width_bits, dram.banks, dram.bank_groups, dram.row_size_bytes) == \
        (64, 8, 2, 8192)
    assert dram.tcl_s == pytest.approx(17 * tck * 1e-9, rel=1e-5)
    assert dram.tcwl_s == pytest.approx(14 * tck * 1e-9, rel=1e-5)
    # four x16 dies draw the currents: ACT = 1.2 V x (80 x 47 - (47 x 32 + 34 x 15)) x 4
    assert dram.act_energy_pj == pytest.approx(1.2 * (80 * 47 - (47 * 32 + 34 * 15)) * tck * 4,
                                               rel=1e-5)
    assert dram.background_power_w == pytest.approx(1.2 * 47 * 4e-3)


def test_a_flat_read_energy_is_all_in():
    # eyeriss-like sets Timeloop's 8 pJ/bit itself: ACT, background and refresh stay 0
    dram = load_hardware("eyeriss-like").dram
    assert (dram.read_energy_pj_per_bit, dram.act_energy_pj, dram.background_power_w,
            dram.refresh_power_w) == (8.0, 0.0, 0.0, 0.0)
    # setting one of them after the IDD energies were derived: flat from then on
    flat = load_hardware("edge-lpddr4").replace({"dram.read_energy": "8 pJ/bit"}).dram
    assert (flat.act_energy_pj, flat.background_power_w, flat.refresh_power_w) == (0, 0, 0)
    assert flat.write_energy_pj_per_bit == pytest.approx(IDD_REFERENCE["edge-lpddr4"][
        "write_energy_pj_per_bit"], rel=1e-5)  # the unset direction keeps its IDD price
    # an explicit ACT energy beside the flat price is kept
    both = load_hardware("edge-lpddr4").replace({"dram.read_energy": "8 pJ/bit",
                                                 "dram.act_energy": "1 nJ"}).dram
    assert both.act_energy_pj == 1000


SET_2400 = {"dram.vdd": "1.2 V", "dram.idd0": "80 mA", "dram.idd2n": "34 mA",
            "dram.idd3n": "60 mA", "dram.idd4r": "243 mA", "dram.idd4w": "228 mA",
            "dram.idd5ab": "280 mA", "dram.device_width": "16 bit"}


def test_a_description_s_own_idd_set_prices_it():
    base = load_hardware("edge-lpddr4")
    hotter = base.replace(SET_2400).dram
    assert hotter.background_power_w == pytest.approx(1.2 * 60 * 2e-3)
    assert hotter.act_energy_pj < base.dram.act_energy_pj  # more standby charge subtracted
    assert hotter.read_energy_pj_per_bit == base.dram.read_energy_pj_per_bit  # explicit


def test_regen_energy_is_the_sum_of_its_datapath():
    table = energy_table("horowitz-45nm")
    expected = sum(step.count * table.ops[step.op].value for step in REGEN_DATAPATH)
    derived = regen_energy_per_value(table)
    assert derived.value == pytest.approx(expected)
    # cheaper than reading one fp32 weight from LPDDR4 (32 bit x 8 pJ/bit), dearer than a MAC
    assert mac_energy_pj(table, "fp32") < derived.value < 32 * 8.0
    assert "REGEN_DATAPATH" in derived.source


def test_unknown_table_and_dtype_are_config_errors():
    with pytest.raises(ConfigError, match="known: horowitz-45nm"):
        energy_table("horowitz-7nm")
    with pytest.raises(ConfigError, match="unknown dtype"):
        mac_energy_pj(energy_table("horowitz-45nm"), "fp64")
