"""Physical bounds: every bounded key refuses a value beyond any real part, in one line
naming the file and key; combinations the replay cannot cost are refused too."""

from __future__ import annotations

import pytest

from accelsim.errors import ConfigError
from accelsim.hw import load_hardware
from accelsim.hw.bounds import BOUNDS

ROOT_PRESETS = ("datacenter-hbm2", "dropback-edge", "edge-lpddr4", "eyeriss-like",
                "scalesim-32x32-ws")


def _preset_for(key: str) -> str:
    if key.startswith("regen."):
        return "dropback-edge"
    if key == "dram.bandwidth_words_per_cycle" or key.startswith("sram.") and "_capacity" in key:
        return "scalesim-32x32-ws"  # ideal DRAM, per-operand buffers
    return "edge-lpddr4"


@pytest.mark.parametrize("key", sorted(BOUNDS))
def test_every_bounded_key_refuses_a_value_beyond_its_bound(key):
    limit, text = BOUNDS[key]
    dotted = "array.mac_energy.fp32" if key == "array.mac_energy" else key
    value = int(limit * 4) if isinstance(limit, int) else limit * 4
    change = {dotted: value}
    if key == "mapping.chunks":  # a key of [[mapping]] tables
        dotted, change = r"mapping\[0\]\.chunks", {"mapping": [{"layer": "1", "chunks": value}]}
    with pytest.raises(ConfigError, match=rf"{dotted}: .*beyond any real part \(at most "):
        load_hardware(_preset_for(key)).replace(change)


@pytest.mark.parametrize("name", ROOT_PRESETS)
def test_presets_are_within_every_bound(name):
    load_hardware(name)


@pytest.mark.parametrize("changes, message", [
    ({"dram.read_energy": "0 pJ/bit"}, "dram.read_energy: 0 with a regeneration unit"),
    ({"sram.capacity": "8 B", "sram.banks": 1, "sram.width": "8 bit"},
     "less than one tile of a 16x16 array"),
    ({"dram.channels": 10**6}, "dram.channels"),
    ({"array.rows": 10**18}, "array.rows"),
    ({"regen.lanes": 10**18}, "regen.lanes"),
    ({"array.clock": "1e30 Hz"}, "array.clock"),
    ({"dram.banks": 10**18}, "dram.banks"),
])
def test_the_issues_impossible_designs_are_refused(changes, message):
    """issue 15 item 7: each was a ZeroDivisionError or simulated to finite numbers."""
    with pytest.raises(ConfigError, match=message):
        load_hardware("dropback-edge").replace(changes)


def test_zero_dram_energy_without_regen_is_fine():
    hw = load_hardware("edge-lpddr4").replace({"dram.read_energy": "0 pJ/bit"})
    assert hw.dram.read_energy_pj_per_bit == 0


def test_every_numeric_key_has_a_bound():
    # A key added without a bound would accept 10^18 silently; this names it.
    from accelsim.hw.description import SECTIONS
    from accelsim.hw.docs import SECTION_CLASSES
    from accelsim.hw.schema import params_of

    numeric = ("count", "frequency", "duration", "size", "energy", "energy_per_bit", "power",
               "bits", "transfer_rate", "number", "current", "voltage")
    unbounded = []
    for section in SECTIONS:
        for _, spec in params_of(SECTION_CLASSES[section]):
            if spec.key is None or spec.kind not in numeric:
                continue
            if BOUNDS.get(f"{section}.{spec.key}") is None:
                unbounded.append(f"{section}.{spec.key}")
    assert not unbounded, unbounded


def test_bounds_are_documented_with_their_keys():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "hardware.md").read_text()
    for key, (_, shown) in BOUNDS.items():
        row = next(line for line in text.splitlines() if line.startswith(f"| `{key}`"))
        assert f"at most {shown}" in row, key
