"""write_report end to end: the files, their agreement with the totals, the figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from report_support import write_result

import accelsim.report.figures as figures
from accelsim.errors import ConfigError
from accelsim.report import write_report
from accelsim.report.palette import run_styles
from accelsim.report.runs import load_runs
from accelsim.report.writer import TABLES
from accelsim.sim import simulate

REPO = Path(__file__).resolve().parents[2]
FIGURE_NAMES = ("energy_by_component", "dram_by_phase_operand", "dram_per_step",
                "stored_set", "dram_by_layer", "accuracy_vs_compression")
DATA_FILES = ("report.md", "report.json", "energy_by_component.csv", "dram_by_phase.csv",
              "dram_by_operand.csv", "layers.csv")


@pytest.fixture(scope="module")
def budget_sweep(tmp_path_factory):
    """Dense and DropBack at two budgets on one design, plus one run on another design."""
    folder = tmp_path_factory.mktemp("sweep")
    results = [write_result(folder, "dense", accuracy=97.5),
               write_result(folder, "db10", method="dropback", compression=10, accuracy=96.0),
               write_result(folder, "db25", method="dropback", compression=25, accuracy=95.0),
               write_result(folder, "db25-lp", method="dropback", compression=25,
                            hw="edge-lpddr4", accuracy=95.0)]
    out = folder / "report"
    return results, out, write_report(results, out)


@pytest.fixture(scope="module")
def real_report(tmp_path_factory):
    """A real replay of the DropBack sample trace (19 steps) against the dense trace."""
    folder = tmp_path_factory.mktemp("real")
    results = []
    for name in ("dense", "dropback25"):
        result = simulate(str(REPO / f"traces/lenet300-{name}.trace"), "dropback-edge",
                          steps="1:20")
        results.append(folder / f"{name}.json")
        results[-1].write_text(result.to_json())
    out = folder / "report"
    return results, out, write_report(results, out)


def test_every_file_is_written(budget_sweep):
    _, out, written = budget_sweep
    expected = [out / name for name in DATA_FILES] + [
        out / "figures" / f"{name}.{fmt}" for name in FIGURE_NAMES for fmt in ("png", "svg")]
    assert written == expected
    assert sorted(p for p in out.rglob("*") if p.is_file()) == sorted(expected)


def test_figures_are_png_and_svg(budget_sweep):
    _, out, _ = budget_sweep
    for name in FIGURE_NAMES:
        png = (out / "figures" / f"{name}.png").read_bytes()
        svg = (out / "figures" / f"{name}.svg").read_text()
        assert png.startswith(b"\x89PNG") and len(png) > 10_000, name
        assert "<svg" in svg and len(svg) > 10_000, name


def test_report_json_holds_the_runs_ratios_and_tables(budget_sweep):
    results, out, _ = budget_sweep
    report = json.loads((out / "report.json").read_text())
    assert report["format"] == "accelsim-report"
    assert [run["path"] for run in report["runs"]] == [str(path) for path in results]
    totals = {run["label"]: run["totals"] for run in report["runs"]}
    ratios = {row["run"]: row for row in report["ratios"]}
    assert set(ratios) == {"DropBack 10x on dropback-edge", "DropBack 25x on dropback-edge"}
    dense = totals["Dense on dropback-edge"]
    for label, row in ratios.items():
        assert row["baseline"] == "Dense on dropback-edge"
        assert row["energy_pj"] == pytest.approx(dense["energy_pj"]
                                                 / totals[label]["energy_pj"])
    energy = report["tables"]["energy_by_component"]
    for label, run_totals in totals.items():
        assert sum(r["energy_pj"] for r in energy if r["run"] == label) == pytest.approx(
            run_totals["energy_pj"])
    csv_lines = (out / "layers.csv").read_text().splitlines()
    assert csv_lines[0].startswith("run,layer,phase,dram_read_bytes,dram_write_bytes")
    assert len(csv_lines) == 1 + len(report["tables"]["layers"])


def test_report_md_reads_on_its_own(budget_sweep):
    _, out, _ = budget_sweep
    text = (out / "report.md").read_text()
    for heading in ("## What was simulated", "## Headline", "## Energy by component",
                    "## DRAM traffic and cycles by phase", "## DRAM traffic by operand",
                    "## Per layer", "## Accuracy vs compression"):
        assert heading in text
    assert "16x16 ws array @ 800 MHz" in text and "12.8 GB/s" in text
    assert "regen 16 lanes" in text and "no regen unit" in text
    assert "DropBack 25x on dropback-edge reads" in text
    assert "less weight data from DRAM than dense" in text
    for name in FIGURE_NAMES:
        assert f"(figures/{name}.png)" in text
    assert "not drawn" not in text


def test_accuracy_figure_only_when_runs_differ_only_in_budget(budget_sweep, results_dir,
                                                               tmp_path):
    _, out, _ = budget_sweep
    assert (out / "figures" / "accuracy_vs_compression.png").exists()
    # One budget per design: nothing to compare; the stale figure of a report is removed.
    report = tmp_path / "report"
    results = [write_result(results_dir, "dense"),
               write_result(results_dir, "db10", method="dropback", compression=10),
               write_result(results_dir, "db25-lp", method="dropback", compression=25,
                            hw="edge-lpddr4")]
    (report / "figures").mkdir(parents=True)
    (report / "figures" / "accuracy_vs_compression.png").write_bytes(b"stale")
    write_report(results, report)
    assert not (report / "figures" / "accuracy_vs_compression.png").exists()
    assert 'Figure "Accuracy vs compression" not drawn' in (report / "report.md").read_text()


@pytest.mark.parametrize("members, drawn", [
    ([dict(compression=10), dict(compression=25)], True),
    ([dict(compression=10), dict(compression=10)], False),  # one budget
    ([dict(compression=10), dict(compression=25, hw="edge-lpddr4")], False),
    ([dict(compression=10), dict(compression=25, net="other")], False),
    ([dict(compression=10), dict(compression=25, accuracy=None)], False),
])
def test_budget_groups(results_dir, members, drawn):
    paths = [write_result(results_dir, f"r{i}", method="dropback", **kwargs)
             for i, kwargs in enumerate(members)]
    assert bool(figures.budget_groups(load_runs(paths))) == drawn


def test_real_replay(real_report):
    results, out, written = real_report
    assert all(path.stat().st_size > 0 for path in written)
    report = json.loads((out / "report.json").read_text())
    dense, dropback = (json.loads(path.read_text())["totals"] for path in results)
    (row,) = report["ratios"]
    assert row["weight_dram_read_bytes"] == pytest.approx(
        dense["weight_dram_read_bytes"] / dropback["weight_dram_read_bytes"])
    assert row["weight_dram_read_bytes"] > 5  # DropBack 25x stores 4% of the weights
    assert report["runs"][1]["training_steps"] == 19
    assert "differ only in their budget" in report["figures"]["accuracy_vs_compression"][
        "skipped"]
    text = (out / "report.md").read_text()
    assert "DropBack 25x on dropback-edge reads" in text
    assert "| `1` | fwd |" in text  # LeNet-300-100's first layer in the per-layer table


def test_a_failure_while_drawing_leaves_the_old_report(results_dir, tmp_path, monkeypatch):
    out = tmp_path / "report"
    out.mkdir()
    (out / "report.md").write_text("old")

    def broken(data):
        raise RuntimeError("drawing failed")

    title, how, _ = figures.FIGURES["energy_by_component"]
    monkeypatch.setitem(figures.FIGURES, "energy_by_component", (title, how, broken))
    with pytest.raises(RuntimeError):
        write_report([write_result(results_dir, "dense")], out)
    assert [path.name for path in out.iterdir()] == ["report.md"]  # no staging folder
    assert (out / "report.md").read_text() == "old"


def test_out_dir_that_is_a_file(results_dir, tmp_path):
    target = tmp_path / "taken"
    target.write_text("x")
    with pytest.raises(ConfigError, match="taken"):
        write_report([write_result(results_dir, "dense")], target)


def _figure_data(runs):
    tables = {name[:-4]: table(runs) for name, table in TABLES.items()}
    return figures.Data(runs, tables, run_styles(runs))


def test_figures_without_their_data_are_skipped(results_dir):
    one_step = load_runs([write_result(results_dir, "single", steps=1)])
    assert "single recorded step" in figures.draw_dram_per_step(_figure_data(one_step))
    assert "single recorded step" in figures.draw_stored_set(_figure_data(one_step))
    result = json.loads(write_result(results_dir, "no-stored").read_text())
    del result["per_step"]["stored_weights"]
    (results_dir / "no-stored.json").write_text(json.dumps(result))
    runs = load_runs([results_dir / "no-stored.json"])
    assert "stored-weight count" in figures.draw_stored_set(_figure_data(runs))
    assert not isinstance(figures.draw_dram_per_step(_figure_data(runs)), str)
