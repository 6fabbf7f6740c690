"""accelsim demo end to end, one epoch per run (the real demo trains longer)."""

import json

from accelsim.demo import RUNS, run_demo


def test_demo_writes_traces_results_report_and_ratios(tmp_path):
    rows = run_demo(tmp_path, epochs=1, progress=False)
    assert [row["run"] for row in rows] == [run.name for run in RUNS]
    for run in RUNS:
        assert (tmp_path / "traces" / f"{run.name}.trace").stat().st_size > 0
        assert json.loads((tmp_path / "results" / f"{run.name}.json").read_text())["totals"]
    for name in ("report.md", "report.json", "demo.json"):
        assert (tmp_path / name).stat().st_size > 0
    figures = {path.stem for path in (tmp_path / "figures").glob("*.png")}
    assert "accuracy_vs_compression" in figures  # DropBack at three budgets
    report = json.loads((tmp_path / "report.json").read_text())
    labels = [run["label"] for run in report["runs"]]
    assert len(set(labels)) == len(labels) == len(RUNS)
    assert {run["dataset"] for run in report["runs"]} == {"mnist-5k", "digits"}
    by_name = {row["run"]: row for row in rows}
    dropback = by_name["lenet300-dropback25"]
    # The acceptance: DropBack's weight DRAM traffic at least 10x below dense's.
    assert dropback["weight_dram_read_bytes_ratio"] >= 10
    assert dropback["stored_weights"] == 266_610 // 25
    # SWD stores every weight until its prune (90% of the steps), then 10% of them.
    swd = by_name["lenet5-swd10"]["weight_dram_read_bytes_ratio"]
    assert 1.0 < swd < 1.5
    assert "lenet300-dropback25" in (tmp_path / "report.md").read_text()
