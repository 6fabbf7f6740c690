"""The description's behaviour: replace(), to_dict(), equality, derived values, checks."""

import dataclasses
import json
import math

import numpy as np
import pytest

from accelsim.errors import ConfigError
from accelsim.hw import build_hardware, canonical_dtype, load_hardware


@pytest.fixture(scope="module")
def edge():
    return load_hardware("edge-lpddr4")


def _tables(**sections):
    tables = {"name": "t", "array": {"rows": 4, "cols": 4, "clock": "1 GHz"},
              "sram": {"capacity": "64 KiB"},
              "dram": {"standard": "ideal", "bandwidth_words_per_cycle": 10}}
    for section, values in sections.items():
        timed_dram = section == "dram" and values.get("standard", "ideal") != "ideal"
        tables[section] = values if timed_dram else {**tables.get(section, {}), **values}
    return tables


def _build(**sections):
    return build_hardware(_tables(**sections), source="t.toml")


def _build_error(**sections) -> str:
    with pytest.raises(ConfigError) as error:
        _build(**sections)
    return str(error.value)


# --- replace -------------------------------------------------------------------------------

def test_replace_takes_units_or_base_numbers_and_validates(edge):
    bigger = edge.replace({"sram.capacity": "1 MiB", "array.rows": 32})
    assert (bigger.sram.capacity_bytes, bigger.array.rows) == (1024 * 1024, 32)
    assert bigger == edge.replace({"sram.capacity": 1024 * 1024, "array.rows": 32})
    assert bigger.sram.buffers[0].read_energy_pj > edge.sram.buffers[0].read_energy_pj
    assert edge.sram.capacity_bytes == 512 * 1024  # the original is untouched


@pytest.mark.parametrize(("changes", "expected"), [
    ({"array.rows": 0}, "replace(): array.rows: must be greater than zero, got 0"),
    ({"sram.capacty": "1 MiB"}, 'replace(): sram.capacty: unknown key (did you mean "capacity"?)'),
    ({"sram.capacity": "1 MHz"}, 'replace(): sram.capacity: expected a size like "64 KiB", '
                                 'got "1 MHz"'),
    ({"array.dataflow": "rs"}, 'replace(): array.dataflow: expected one of "ws", "os", "is", '
                               'got "rs"'),
])
def test_replace_rejects_what_a_file_would(edge, changes, expected):
    with pytest.raises(ConfigError) as error:
        edge.replace(changes)
    assert str(error.value) == expected


def test_replacing_the_standard_rederives_its_defaults(edge):
    ddr4 = edge.replace({"dram.standard": "ddr4-3200"})
    assert ddr4.dram.trcd_s == pytest.approx(13.75e-9)
    assert ddr4.dram.banks == 16 and ddr4.dram.act_energy_pj == pytest.approx(4200)
    # the preset's LPDDR4-specific keys (x32 bus, 8 pJ/bit) do not leak into DDR4
    assert ddr4.dram.bus_width_bits == 64
    assert ddr4.dram.read_energy_pj_per_bit == pytest.approx(5.4375)
    narrow = edge.replace({"dram.standard": "ddr4-3200", "dram.bus_width": "32 bit"})
    assert narrow.dram.bus_width_bits == 32  # keys given alongside still apply
    ideal = edge.replace({"dram.standard": "ideal", "dram.bandwidth_words_per_cycle": 4})
    assert ideal.dram_bytes_per_cycle == 16  # 4 fp32 words
    assert edge.replace({"dram.standard": "lpddr4-3200"}) == edge  # same value: nothing dropped


def test_changing_the_storage_format_drops_the_old_index_width():
    dropback = load_hardware("dropback-edge")
    assert dropback.replace({"storage.format": "bitmap"}).storage.index_bits is None
    assert dropback.replace({"storage.format": "coo"}).storage.index_bits is None  # auto
    assert dropback.replace({"storage.format": "coo", "storage.index_bits": 20}
                            ).storage.index_bits == 20


def test_changing_the_sram_organization_drops_per_operand_sizes():
    per_operand = _build(sram={"filter_capacity": "128 KiB"})
    unified = per_operand.replace({"sram.organization": "unified"})
    assert [b.capacity_bytes for b in unified.sram.buffers] == [65536]


def test_replace_adds_and_removes_the_regen_unit(edge):
    with_regen = edge.replace({"regen.lanes": 8})
    assert with_regen.regen.lanes == 8
    assert with_regen.replace({"regen": False}).regen is None
    assert with_regen.replace({"regen": False}) == edge


def test_replace_can_override_one_mac_energy(edge):
    changed = edge.replace({"array.mac_energy.fp16": "2 pJ"})
    assert changed.array.mac_energy_pj("fp16") == 2.0
    assert changed.array.mac_energy_pj("fp32") == edge.array.mac_energy_pj("fp32")


# --- to_dict, equality, hashing -----------------------------------------------------------

def test_to_dict_is_json_in_base_units_and_stable(edge):
    data = edge.to_dict()
    text = json.dumps(data)
    assert json.dumps(load_hardware("edge-lpddr4").to_dict()) == text
    assert data["sram"]["capacity_bytes"] == 512 * 1024
    assert data["array"]["clock_hz"] == 8e8
    assert data["dram"]["trcd_s"] == pytest.approx(18.125e-9)
    # fp16 x fp16 accumulating in fp32 (the default accumulator): 1.1 + 0.9 pJ (Horowitz)
    assert data["array"]["mac_energy_pj_by_dtype"]["fp16"] == pytest.approx(2.0)
    assert data["dram"]["address_mapping"] == ["row", "rank", "bank", "column", "channel"]
    assert data["sram"]["buffers"][0]["name"] == "unified"
    assert list(data)[:3] == ["name", "description", "array"]


def test_equal_descriptions_hash_equal_and_frozen(edge):
    again = load_hardware("edge-lpddr4")
    assert again == edge and hash(again) == hash(edge)
    assert {edge: "cached"}[again] == "cached"
    assert edge.replace({"array.rows": 32}) != edge
    with pytest.raises(dataclasses.FrozenInstanceError):
        edge.array.rows = 32


def test_fingerprint_covers_physical_values_only(edge):
    renamed = edge.replace({"name": "other", "description": "same hardware"})
    assert renamed != edge and renamed.fingerprint() == edge.fingerprint()
    assert edge.replace({"array.rows": 32}).fingerprint() != edge.fingerprint()


# --- derived values ------------------------------------------------------------------------

def test_lpddr4_3200_x32_is_12_8_gb_per_s(edge):
    assert edge.dram.peak_bandwidth_bytes_per_s == pytest.approx(12.8e9)
    assert edge.dram.burst_bytes == 64  # 4 B x BL16


def test_ideal_dram_moves_words_of_the_weight_dtype():
    int8 = _build(dtypes={"weights": "int8"})
    assert int8.dram_bytes_per_cycle == 10
    assert int8.dram_bandwidth_bytes_per_s == pytest.approx(10e9)
    fp32 = _build()
    assert fp32.dram_bytes_per_cycle == 40
    assert fp32.dram.peak_bandwidth_bytes_per_s is None and fp32.dram.tras_s is None
    assert fp32.dram.read_energy_pj_per_bit == pytest.approx(1950 / 64)  # Horowitz midpoint


def test_sram_energy_defaults_use_one_bank_and_the_width():
    # Horowitz: 64 KiB lies on the 32 KiB (20 pJ) -> 1 MiB (100 pJ) power law.
    one_bank = _build().sram.buffers[0]
    assert one_bank.read_energy_pj == pytest.approx(20 * 2 ** (math.log(5) / math.log(32)))
    # 64 KiB in 4 banks: each access drives a 16 KiB bank, sqrt(10 * 20) pJ.
    four_banks = _build(sram={"banks": 4}).sram.buffers[0]
    assert four_banks.read_energy_pj == pytest.approx(math.sqrt(10 * 20))
    wide = _build(sram={"width": "128 bit"}).sram.buffers[0]
    assert wide.read_energy_pj == pytest.approx(2 * one_bank.read_energy_pj)
    assert one_bank.write_energy_pj == one_bank.read_energy_pj


def test_sram_overrides_per_operand_and_energies():
    sram = _build(sram={"filter_capacity": "128 KiB", "read_energy": "3 pJ"}).sram
    assert [b.capacity_bytes for b in sram.buffers] == [65536, 131072, 65536]
    assert sram.buffer("filter").capacity_bytes == 131072
    assert {b.read_energy_pj for b in sram.buffers} == {3.0}
    assert sram.buffer("ifmap").write_energy_pj != 3.0  # write keeps its table default
    assert sram.total_capacity_bytes == 4 * 65536


def test_unified_sram_refuses_per_operand_sizes():
    unified = _build(sram={"organization": "unified"}).sram
    assert unified.buffer("ifmap") is unified.buffer("ofmap")
    assert "sram.ifmap_capacity: only for organization" in _build_error(
        sram={"organization": "unified", "ifmap_capacity": "8 KiB"})


def test_a_bank_must_hold_one_access():
    assert "sram.banks" in _build_error(sram={"capacity": "64 B", "banks": 16})


# --- DRAM checks ---------------------------------------------------------------------------

def test_tras_shorter_than_trcd_is_impossible():
    message = _build_error(dram={"standard": "ddr4-3200", "tRAS": "10 ns"})
    assert message == "t.toml: dram.tRAS: 10 ns is shorter than tRCD (13.75 ns)"


def test_data_rate_and_clock_must_agree():
    assert "dram.tCK: a double-data-rate bus" in _build_error(
        dram={"standard": "ddr4-3200", "data_rate": "2400 MT/s"})
    changed = _build(dram={"standard": "ddr4-3200", "data_rate": "2400 MT/s",
                           "tCK": "0.8333 ns"})
    assert changed.dram.peak_bandwidth_bytes_per_s == pytest.approx(19.2e9)


def test_ideal_refuses_timings_and_timed_refuses_words_per_cycle():
    assert 'dram.tRCD: not used by standard "ideal"' in _build_error(dram={"tRCD": "14 ns"})
    assert "dram.bandwidth_words_per_cycle: only for" in _build_error(
        dram={"standard": "hbm2", "bandwidth_words_per_cycle": 10})
    tables = _tables()
    del tables["dram"]["bandwidth_words_per_cycle"]
    with pytest.raises(ConfigError, match="bandwidth_words_per_cycle: missing"):
        build_hardware(tables, source="t.toml")


def test_a_standard_fills_every_timing():
    hbm2 = _build(dram={"standard": "hbm2"})
    assert hbm2.dram.channels == 8 and hbm2.dram.trefi_s == pytest.approx(3.9e-6)
    assert hbm2.dram.peak_bandwidth_bytes_per_s == pytest.approx(256e9)
    for field in dataclasses.fields(hbm2.dram):
        if field.name != "bandwidth_words_per_cycle":  # the ideal DRAM's only
            assert getattr(hbm2.dram, field.name) is not None, field.name


def test_address_mapping_is_normalised_and_checked():
    mapping = _build(dram={"standard": "ddr4-3200", "address_mapping": "row:column:bank"})
    assert mapping.dram.address_mapping == ("row", "rank", "column", "bank", "channel")
    listed = _build(dram={"standard": "ddr4-3200",
                          "address_mapping": ["channel", "row", "bank", "rank", "column"]})
    assert listed.dram.address_mapping == ("channel", "row", "bank", "rank", "column")
    assert 'unknown field "bnak" (did you mean "bank"?)' in _build_error(
        dram={"standard": "ddr4-3200", "address_mapping": "row:bnak:column"})
    assert "appears twice" in _build_error(
        dram={"standard": "ddr4-3200", "address_mapping": "row:bank:bank:column"})
    assert 'missing field "column"' in _build_error(
        dram={"standard": "ddr4-3200", "address_mapping": "row:bank"})


# --- storage, dtypes, regen, array ---------------------------------------------------------

def test_storage_formats_and_their_index_bits():
    assert _build(storage={"format": "csr"}).storage.index_bits == 4
    assert _build(storage={"format": "coo"}).storage.index_bits is None
    assert _build(storage={"format": "coo", "index_bits": 32}).storage.index_bits == 32
    assert 'not used by format "dense"' in _build_error(storage={"index_bits": 4})
    assert "csr needs a fixed width" in _build_error(
        storage={"format": "csr", "index_bits": "auto"})


def test_storage_costs_follow_the_documented_formulas():
    csr = _build(storage={"format": "csr"}).storage
    # zeros before each stored weight: 0, 19, 0, 38 -> 19 // 16 + 38 // 16 = 3 padding entries
    padding = csr.padding_entries(np.array([0, 20, 21, 60]))
    assert padding == 3
    assert csr.stored_bits(numel=100, stored=4, value_bits=32, padding=padding) == 7 * 36
    bitmap = _build(storage={"format": "bitmap"}).storage
    assert bitmap.stored_bits(numel=100, stored=4, value_bits=32) == 100 + 4 * 32
    coo = _build(storage={"format": "coo"}).storage
    assert coo.index_bits_for(1000) == 10
    assert coo.stored_bits(numel=1000, stored=4, value_bits=32) == 4 * 42
    dense = _build().storage
    assert dense.stored_bits(numel=100, stored=4, value_bits=32) == 3200
    assert dense.padding_entries(np.array([0, 99])) == 0


def test_dtypes_and_mac_energy_lookup():
    hardware = _build(dtypes={"weights": "bf16", "gradients": "int8"})
    assert hardware.dtypes.bytes_of("weights") == 2 and hardware.dtypes.gradients_bytes == 1
    assert canonical_dtype("float32") == "fp32"
    assert hardware.array.mac_energy_pj("float32") == pytest.approx(4.6)
    assert 'dtypes.weights: expected one of "int8"' in _build_error(dtypes={"weights": "fp64"})
    assert 'array.mac_energy.fp64: unknown key' in _build_error(
        array={"mac_energy": {"fp64": "1 pJ"}})


def test_regen_defaults_and_errors():
    regen = _build(regen={"lanes": 16}).regen
    assert regen.latency_cycles == 60 and regen.energy_per_value_pj == pytest.approx(111.2)
    assert _build(regen={"lanes": 4, "energy_per_value": "50 pJ"}).regen.energy_per_value_pj == 50
    assert "regen.lanes: missing required key" in _build_error(regen={"latency": 4})
    tables = _tables()
    tables["regen"] = True
    with pytest.raises(ConfigError, match=r"regen: expected a \[regen\] table"):
        build_hardware(tables, source="t.toml")
