"""The scripts in docs/examples run as a researcher would run them, and say something true."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_example(name: str) -> list[str]:
    done = subprocess.run([sys.executable, str(ROOT / "docs" / "examples" / name)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_sram_sweep_shows_dropback_moving_less_at_every_size():
    lines = run_example("sram_sweep.py")
    rows = [line.split() for line in lines[1:]]
    assert len(rows) == 8  # 4 capacities x 2 runs
    for dense, dropback in zip(rows[0::2], rows[1::2], strict=True):
        assert dense[2] == "dense" and dropback[2] == "dropback"
        assert float(dropback[-2]) < float(dense[-2])  # DRAM MB per step
    dense_traffic = [float(row[-2]) for row in rows[0::2]]
    assert dense_traffic == sorted(dense_traffic, reverse=True)  # more SRAM, less traffic


def test_dram_standards_compares_four_standards():
    lines = run_example("dram_standards.py")
    rows = {line.split()[0]: [float(x) for x in line.split()[1:]] for line in lines[1:]}
    assert set(rows) == {"lpddr4-3200", "ddr4-2400", "ddr4-3200", "hbm2"}
    assert rows["hbm2"][0] > rows["ddr4-3200"][0] > rows["ddr4-2400"][0]  # GB/s
    assert rows["hbm2"][1] <= rows["lpddr4-3200"][1]  # more bandwidth, no more cycles


@pytest.mark.parametrize("spec", ["sweep-sram.toml"])
def test_example_sweep_spec_is_valid(spec):
    from accelsim.explore import load_spec

    assert load_spec(ROOT / "docs" / "examples" / spec)


def test_custom_method_example_records_the_stored_set_of_every_step():
    lines = run_example("custom_method.py")
    rows = [[int(x) for x in line.split()] for line in lines[1:-1]]
    assert [row[0] for row in rows] == list(range(1, 13))
    assert all(trace == own for _, trace, own in rows)  # a method with no mask_delta
    stored = [row[1] for row in rows]
    assert stored == sorted(stored, reverse=True) and stored[-1] < stored[0] / 4
    assert lines[-1].startswith("weight DRAM reads per step:")
