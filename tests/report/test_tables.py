"""Tables sum to the totals they split; ratios are dense / run from the totals."""

from __future__ import annotations

import csv
import io

import pytest
from report_support import write_result

from accelsim.report import tables
from accelsim.report.runs import load_runs
from accelsim.sim.results import ENERGY_PARTS, TRAFFIC_CLASSES


@pytest.fixture
def runs(results_dir):
    return load_runs([write_result(results_dir, "dense"),
                      write_result(results_dir, "db25", method="dropback", compression=25),
                      write_result(results_dir, "db-other-hw", method="dropback",
                                   compression=25, hw="edge-lpddr4")])


def test_ratios_are_dense_over_run_from_the_totals(runs):
    dense, dropback, _ = runs
    (row,) = tables.ratios(runs)  # the run on other hardware has no dense to compare with
    assert (row["run"], row["baseline"]) == (dropback.label, dense.label)
    d, r = dense.totals, dropback.totals
    assert row["weight_dram_read_bytes"] == pytest.approx(
        d["weight_dram_read_bytes"] / r["weight_dram_read_bytes"])
    assert row["dram_bytes"] == pytest.approx(
        (d["dram_read_bytes"] + d["dram_write_bytes"])
        / (r["dram_read_bytes"] + r["dram_write_bytes"]))
    assert row["cycles"] == pytest.approx(d["cycles"] / r["cycles"])
    assert row["energy_pj"] == pytest.approx(d["energy_pj"] / r["energy_pj"])
    assert row["weight_dram_read_bytes"] > 10
    factor = tables.times(row["weight_dram_read_bytes"])
    assert row["sentence"].startswith(
        f"DropBack 25x on dropback-edge reads {factor}x less weight data from DRAM than dense")


def test_ratios_compare_per_training_step_when_replays_differ(results_dir):
    runs = load_runs([write_result(results_dir, "dense", steps=6),
                      write_result(results_dir, "db", method="dropback", compression=4,
                                   steps=3)])
    (row,) = tables.ratios(runs)
    dense, dropback = runs
    expected = (dense.totals["cycles"] / 6) / (dropback.totals["cycles"] / 3)
    assert row["cycles"] == pytest.approx(expected)
    assert not row["same_steps"]
    assert "different steps" in row["sentence"]


def test_same_cost_reads_as_much_as_dense(results_dir):
    runs = load_runs([write_result(results_dir, "dense"),
                      write_result(results_dir, "also-dense-cost", method="swd")])
    (row,) = tables.ratios(runs)
    assert row["cycles"] == 1.0
    assert "reads as much weight data from DRAM as dense" in row["sentence"]


def test_tables_sum_to_the_totals(runs):
    for run in runs:
        energy = [r for r in tables.energy_by_component(runs) if r["run"] == run.label]
        assert [r["component"] for r in energy] == list(ENERGY_PARTS)
        assert sum(r["energy_pj"] for r in energy) == pytest.approx(run.totals["energy_pj"])
        assert sum(r["share_percent"] for r in energy) == pytest.approx(100)
        for table in (tables.dram_by_phase(runs), tables.dram_by_operand(runs),
                      tables.layers(runs)):
            mine = [r for r in table if r["run"] == run.label]
            for way in ("read", "write"):
                assert sum(r[f"dram_{way}_bytes"] for r in mine) == pytest.approx(
                    run.totals[f"dram_{way}_bytes"])
        phases = [r for r in tables.dram_by_phase(runs) if r["run"] == run.label]
        assert sum(r["cycles"] for r in phases) == pytest.approx(run.totals["cycles"])
        layers = [r for r in tables.layers(runs) if r["run"] == run.label]
        assert sum(r["cycles"] for r in layers) == pytest.approx(run.totals["cycles"])
        for operand in TRAFFIC_CLASSES:
            assert sum(r[f"dram_read_bytes.{operand}"] for r in layers) == pytest.approx(
                run.totals[f"dram_read_bytes.{operand}"])


def test_csv_keeps_every_value(runs):
    rows = tables.layers(runs)
    parsed = list(csv.DictReader(io.StringIO(tables.to_csv(rows))))
    assert len(parsed) == len(rows)
    assert parsed[0]["run"] == rows[0]["run"]
    assert float(parsed[-1]["cycles"]) == rows[-1]["cycles"]


def test_energy_unit_follows_the_largest_run(runs):
    assert tables.DisplayUnit.for_runs(runs, "energy_pj").name == "µJ"
