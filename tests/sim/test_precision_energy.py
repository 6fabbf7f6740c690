"""Precision-aware MAC energy (what each MAC multiplies, at which dtypes) and SRAM leakage
(static power x time): the fewer cycles, the less static energy."""

from __future__ import annotations

from pathlib import Path

import pytest

from accelsim.cli import main
from accelsim.hw import load_hardware
from accelsim.sim import simulate
from accelsim.sim.pricing import reprice
from accelsim.sim.results import MAC_CLASSES

ROOT = Path(__file__).resolve().parents[2]
DENSE = str(ROOT / "traces" / "lenet300-dense.trace")
STEPS = "1:6"


@pytest.fixture(scope="module")
def edge_result():
    return simulate(DENSE, load_hardware("edge-lpddr4"), steps=STEPS)


def test_each_phase_counts_what_its_macs_multiply(edge_result):
    phases = edge_result.by_phase()
    expected = {"fwd": "weights_activations", "bwd_data": "weights_gradients",
                "bwd_weight": "activations_gradients"}
    for phase, mac_class in expected.items():
        row = phases[phase]
        assert row["macs"] > 0
        assert row[f"macs.{mac_class}"] == row["macs"], phase
        others = [c for c in MAC_CLASSES if c != mac_class]
        assert all(row[f"macs.{c}"] == 0 for c in others), phase
    assert phases["update"]["macs"] == 0


def test_fp32_activations_and_gradients_cost_more_mac_energy_than_fp16(edge_result):
    # edge-lpddr4 multiplies fp16 weight copies by fp16 activations and gradients into
    # fp32 (Horowitz: 1.1 + 0.9 pJ); with fp32 operands every MAC is 3.7 + 0.9 pJ.
    wide = load_hardware("edge-lpddr4").replace({"dtypes.activations": "fp32",
                                                 "dtypes.gradients": "fp32"})
    fp32 = simulate(DENSE, wide, steps=STEPS)
    narrow_pj, wide_pj = edge_result.totals["energy_pj.mac"], fp32.totals["energy_pj.mac"]
    assert fp32.totals["macs"] == edge_result.totals["macs"]
    assert narrow_pj == pytest.approx(edge_result.totals["macs"] * 2.0)
    assert wide_pj / narrow_pj == pytest.approx(4.6 / 2.0)


def test_a_mixed_multiply_is_priced_at_the_costlier_format(edge_result):
    # fp32 master weights multiplied as they are (no fp16 copy): forward and
    # backward-data MACs touch an fp32 operand, the weight-gradient GEMM does not.
    hw = load_hardware("edge-lpddr4").replace({"dtypes.weights_compute": "fp32"})
    mixed = simulate(DENSE, hw, steps=STEPS)
    phases, base = mixed.by_phase(), edge_result.by_phase()
    for phase, pj in (("fwd", 4.6), ("bwd_data", 4.6), ("bwd_weight", 2.0)):
        assert phases[phase]["energy_pj.mac"] == pytest.approx(phases[phase]["macs"] * pj)
    # Only prices changed: the counts, traffic included, are the same.
    assert mixed.totals["dram_bytes"] == edge_result.totals["dram_bytes"]
    assert base["bwd_weight"]["energy_pj.mac"] == phases["bwd_weight"]["energy_pj.mac"]


def test_the_accumulator_is_a_price_reprice_follows(edge_result):
    hw = load_hardware("edge-lpddr4").replace({"dtypes.accumulator": "fp16"})
    again = reprice(edge_result, hw)
    fresh = simulate(DENSE, hw, steps=STEPS)
    assert again.totals["energy_pj.mac"] == pytest.approx(fresh.totals["energy_pj.mac"])
    assert again.totals["energy_pj.mac"] == pytest.approx(edge_result.totals["macs"] * 1.5)
    changed = again.options["repriced"]["changed"]
    assert "dtypes.accumulator" in changed
    assert "array.mac_energy_pj_by_dtype.fp16" in changed


def test_leakage_is_static_power_times_time(edge_result):
    hw = load_hardware("edge-lpddr4")
    watts = hw.sram.leakage_power_w
    assert watts > 0
    seconds = edge_result.totals["cycles"] / hw.array.clock_hz
    assert edge_result.totals["energy_pj.leakage"] == pytest.approx(seconds * watts * 1e12)


def test_fewer_cycles_mean_less_static_energy():
    # Twice the DRAM channels on a DRAM-bound edge design: fewer cycles, the same SRAM,
    # so the leakage energy falls with the cycles.
    base = load_hardware("edge-lpddr4")
    wider = base.replace({"dram.channels": 2})
    slow = simulate(DENSE, base, steps=STEPS).totals
    fast = simulate(DENSE, wider, steps=STEPS).totals
    assert fast["cycles"] < slow["cycles"]
    assert fast["energy_pj.leakage"] / slow["energy_pj.leakage"] == pytest.approx(
        fast["cycles"] / slow["cycles"])


def test_default_leakage_follows_the_tables_cells():
    # The same SRAM leaks far less on low-power cells (cacti-45nm-lop) than on the
    # high-performance ones the cacti-45nm reads were computed for.
    lop = load_hardware("edge-lpddr4")
    hp = lop.replace({"energy.table": "cacti-45nm"})
    assert hp.sram.leakage_power_w > 30 * lop.sram.leakage_power_w
    explicit = lop.replace({"sram.leakage_power": "0.25 W"})
    assert explicit.sram.leakage_power_w == 0.25


def test_an_unknown_accumulator_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('extends = "edge-lpddr4"\n[dtypes]\naccumulator = "fp64"\n')
    code = main(["simulate", DENSE, "--hw", str(bad), "--steps", "1:2",
                 "--out", str(tmp_path / "r.json")])
    err = capsys.readouterr().err
    assert code == 1
    assert "dtypes.accumulator" in err and "fp64" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
