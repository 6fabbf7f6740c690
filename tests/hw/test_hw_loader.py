"""Loading descriptions: presets, extends, and one clear line for every user error."""

import pytest

from accelsim.errors import ConfigError
from accelsim.hw import PRESET_DIR, list_presets, load_hardware

PRESETS = ["datacenter-hbm2", "dropback-edge", "edge-lpddr4", "eyeriss-like",
           "scalesim-32x32-ws"]


def _error(path) -> str:
    with pytest.raises(ConfigError) as error:
        load_hardware(path)
    message = str(error.value)
    assert "\n" not in message
    return message


# --- presets -------------------------------------------------------------------------------

def test_the_presets_are_all_there():
    assert set(PRESETS) <= set(list_presets())


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_loads_and_says_what_it_models(name):
    hardware = load_hardware(name)
    assert hardware.name == name
    assert hardware.source == f"models/{name}.toml"
    assert hardware.description
    assert (PRESET_DIR / f"{name}.toml").read_text().startswith("#")


def test_a_preset_loads_by_path_too():
    assert load_hardware(PRESET_DIR / "edge-lpddr4.toml") == load_hardware("edge-lpddr4")


def test_scalesim_preset_matches_scalesim_defaults():
    hardware = load_hardware("scalesim-32x32-ws")
    assert (hardware.array.rows, hardware.array.cols, hardware.array.dataflow) == (32, 32, "ws")
    assert [(b.name, b.capacity_bytes, b.working_set_bytes) for b in hardware.sram.buffers] == [
        ("ifmap", 65536, 32768), ("filter", 65536, 32768), ("ofmap", 65536, 32768)]
    assert hardware.dram.is_ideal and hardware.dram.bandwidth_words_per_cycle == 10
    assert hardware.dram_bytes_per_cycle == 10  # 10 words of 1 byte
    assert hardware.regen is None and hardware.storage.format == "dense"
    assert {hardware.dtypes.bytes_of(role) for role in
            ("weights", "activations", "gradients", "optimizer_state")} == {1}
    assert hardware.energy.table == "horowitz-45nm"


def test_edge_and_datacenter_bandwidths():
    edge = load_hardware("edge-lpddr4")
    assert edge.dram_bandwidth_bytes_per_s == pytest.approx(12.8e9)  # 3200 MT/s x 4 B
    assert edge.dram_bytes_per_cycle == pytest.approx(16.0)  # at 800 MHz
    assert load_hardware("datacenter-hbm2").dram_bandwidth_bytes_per_s == pytest.approx(256e9)


def test_dropback_edge_is_edge_plus_regen_and_csr():
    edge = load_hardware("edge-lpddr4")
    dropback = load_hardware("dropback-edge")
    assert dropback.array == edge.array and dropback.dram == edge.dram
    assert dropback.regen.lanes == 16 and dropback.regen.energy_per_value_pj > 0
    assert (dropback.storage.format, dropback.storage.index_bits) == ("csr", 8)
    assert dropback == edge.replace({"name": "dropback-edge", "description": dropback.description,
                                     "regen.lanes": 16, "storage.format": "csr",
                                     "storage.index_bits": 8})


def test_unknown_preset_suggests_a_close_one():
    with pytest.raises(ConfigError, match='did you mean "edge-lpddr4"'):
        load_hardware("edge-lpddr5")


# --- user errors ---------------------------------------------------------------------------

def test_wrong_unit_names_file_key_and_reason(write_toml, minimal_text):
    path = write_toml("edge.toml", minimal_text.replace('"64 KiB"', '"64 kHz"'))
    assert _error(path) == f'{path}: sram.capacity: expected a size like "64 KiB", got "64 kHz"'


def test_a_plain_number_for_a_field_with_a_unit_is_refused(write_toml, minimal_text):
    path = write_toml("bare.toml", minimal_text.replace('"64 KiB"', "65536"))
    assert "sram.capacity: expected a size" in _error(path)


def test_unknown_key_gets_a_suggestion(write_toml, minimal_text):
    path = write_toml("typo.toml", minimal_text.replace("capacity =", "capacty ="))
    assert _error(path) == f'{path}: sram.capacty: unknown key (did you mean "capacity"?)'


def test_unknown_section_gets_a_suggestion(write_toml, minimal_text):
    path = write_toml("typo.toml", minimal_text + '\n[dtype]\nweights = "fp16"\n')
    assert 'dtype: unknown key (did you mean "dtypes"?)' in _error(path)


def test_missing_required_key(write_toml, minimal_text):
    path = write_toml("missing.toml", minimal_text.replace("rows = 4\n", ""))
    assert _error(path) == f"{path}: array.rows: missing required key"


@pytest.mark.parametrize(("old", "new", "key"), [
    ("rows = 4", "rows = 0", "array.rows"),
    ("cols = 4", "cols = -2", "array.cols"),
    ('"64 KiB"', '"0 KiB"', "sram.capacity"),
    ('"64 KiB"', '"-64 KiB"', "sram.capacity"),
    ('clock = "1 GHz"', 'clock = "0 Hz"', "array.clock"),
    ("bandwidth_words_per_cycle = 10", "bandwidth_words_per_cycle = 0",
     "dram.bandwidth_words_per_cycle"),
])
def test_zero_and_negative_sizes_are_refused(write_toml, minimal_text, old, new, key):
    path = write_toml("zero.toml", minimal_text.replace(old, new))
    assert f"{key}: must be greater than zero" in _error(path)


def test_zero_banks_are_refused(write_toml, minimal_text):
    path = write_toml("banks.toml", minimal_text.replace('"64 KiB"', '"64 KiB"\nbanks = 0'))
    assert "sram.banks: must be greater than zero, got 0" in _error(path)


def test_bad_dataflow(write_toml, minimal_text):
    path = write_toml("flow.toml", minimal_text.replace("rows = 4", 'rows = 4\ndataflow = "rs"'))
    assert _error(path) == (f'{path}: array.dataflow: expected one of "ws", "os", "is", '
                            f'got "rs"')


def test_invalid_toml_names_the_file(write_toml):
    path = write_toml("broken.toml", "name = \n")
    assert _error(path).startswith(f"{path}: invalid TOML")


def test_missing_file(tmp_path):
    assert "no such file" in _error(tmp_path / "absent.toml")


# --- extends -------------------------------------------------------------------------------

def test_extends_overrides_and_inherits(write_toml, minimal_text):
    write_toml("base.toml", minimal_text)
    child = write_toml("child.toml", 'extends = "base.toml"\nname = "child"\n'
                                     "[array]\nrows = 8\n")
    hardware = load_hardware(child)
    assert (hardware.name, hardware.array.rows, hardware.array.cols) == ("child", 8, 4)
    assert hardware.sram.capacity_bytes == 65536


def test_extends_chains_and_reaches_presets_by_name(write_toml):
    middle = write_toml("middle.toml", 'extends = "edge-lpddr4"\n[array]\nrows = 32\n')
    leaf = write_toml("leaf.toml", 'extends = "middle.toml"\nname = "leaf"\n'
                                   '[sram]\ncapacity = "1 MiB"\n')
    hardware = load_hardware(leaf)
    assert (hardware.name, hardware.array.rows, hardware.sram.capacity_bytes) == (
        "leaf", 32, 1024 * 1024)
    assert hardware.dram.standard == "lpddr4-3200"
    assert load_hardware(middle).name == "edge-lpddr4"


def test_a_bad_inherited_value_names_the_parent_file(write_toml, minimal_text):
    parent = write_toml("parent.toml", minimal_text.replace("rows = 4", "rows = 0"))
    child = write_toml("child.toml", 'extends = "parent.toml"\nname = "child"\n')
    assert _error(child).startswith(f"{parent}: array.rows:")


def test_regen_false_removes_a_parents_regen_unit(write_toml):
    child = write_toml("plain.toml", 'extends = "dropback-edge"\nregen = false\n')
    assert load_hardware(child).regen is None


def test_a_child_changing_the_format_or_standard_drops_dependent_keys(write_toml):
    child = write_toml("coo.toml", 'extends = "dropback-edge"\n[storage]\nformat = "coo"\n'
                                   '[dram]\nstandard = "hbm2"\n')
    hardware = load_hardware(child)
    assert hardware.storage.index_bits is None  # coo's auto, not the parent's csr 4 bits
    assert hardware.dram.channels == 8 and hardware.dram.bus_width_bits == 128
    # hbm2's own IDD-derived read energy (DRAMsim3 HBM2_8Gb_x128.ini: 1.2 V x (390 - 55) mA
    # x 2 ns per 512-bit burst), not the LPDDR4 parent's 6.125
    assert hardware.dram.read_energy_pj_per_bit == pytest.approx(1.2 * 335 * 2 / 512)


def test_extends_loop_is_an_error(write_toml, minimal_text):
    write_toml("a.toml", 'extends = "b.toml"\n' + minimal_text)
    b = write_toml("b.toml", 'extends = "a.toml"\n')
    message = _error(b)
    assert "extends: loop" in message and "a.toml -> " in message


def test_extending_itself_is_a_loop(write_toml, minimal_text):
    path = write_toml("self.toml", 'extends = "self.toml"\n' + minimal_text)
    assert "extends: loop" in _error(path)


def test_missing_parent_is_an_error(write_toml, minimal_text):
    write_toml("base.toml", minimal_text)
    child = write_toml("child.toml", 'extends = "bsae.toml"\n')
    assert _error(child) == (f'{child}: extends: parent "bsae.toml" not found '
                             f'(did you mean "base.toml"?)')
