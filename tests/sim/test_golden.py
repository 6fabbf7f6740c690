"""Golden totals: the sample traces' totals on three presets, checked in as JSON.

Any change to a number here must come with a commit that says why. To rewrite the file
after such a change: ``python tests/sim/test_golden.py --write`` (then read the diff).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from accelsim.hw import load_hardware
from accelsim.sim import simulate

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).with_name("golden_totals.json")
TRACES = ("lenet300-dense", "lenet300-dropback25")
PRESETS = ("edge-lpddr4", "dropback-edge", "datacenter-hbm2")
STEPS = "1:20"
KEYS = ("cycles", "compute_cycles", "macs", "dram_read_bytes", "dram_write_bytes",
        "weight_dram_read_bytes", "sram_read_bytes", "sram_write_bytes", "regen_values",
        "energy_pj", "energy_pj.mac", "energy_pj.sram", "energy_pj.dram", "energy_pj.regen",
        "energy_pj.leakage")


def _totals(trace: str, preset: str) -> dict[str, float]:
    result = simulate(str(ROOT / "traces" / f"{trace}.trace"), load_hardware(preset),
                      steps=STEPS)
    return {key: result.totals[key] for key in KEYS}


def _cases() -> list[tuple[str, str]]:
    return [(trace, preset) for trace in TRACES for preset in PRESETS]


@pytest.mark.parametrize(("trace", "preset"), _cases())
def test_totals_match_the_checked_in_golden(trace, preset):
    golden = json.loads(GOLDEN.read_text())[f"{trace}@{preset}"]
    now = _totals(trace, preset)
    changed = {key: (golden.get(key), value) for key, value in now.items()
               if golden.get(key) != pytest.approx(value, rel=1e-9, abs=1e-6)}
    assert not changed, (
        f"{trace} on {preset}: totals differ from tests/sim/golden_totals.json "
        f"(golden, now): {changed}; if the change is meant, rewrite the file with "
        "`python tests/sim/test_golden.py --write` and say why in the commit")


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    document = {f"{trace}@{preset}": _totals(trace, preset) for trace, preset in _cases()}
    GOLDEN.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN} ({len(document)} cases)")
