"""The DRAM-vs-SRAM figure: drawn for one trace swept over SRAM sizes, left out otherwise."""

from __future__ import annotations

from pathlib import Path

from accelsim.cli import main
from accelsim.hw import load_hardware
from accelsim.sim import simulate

ROOT = Path(__file__).resolve().parents[2]
DENSE = str(ROOT / "traces" / "lenet300-dense.trace")


def _results(tmp_path, capacities) -> list[str]:
    paths = []
    for capacity in capacities:
        hw = load_hardware("edge-lpddr4").replace({"sram.capacity": capacity})
        out = tmp_path / f"r-{capacity.replace(' ', '')}.json"
        out.write_text(simulate(DENSE, hw, steps="1:3").to_json())
        paths.append(str(out))
    return paths


def test_an_sram_sweep_draws_dram_vs_sram(tmp_path, capsys):
    results = _results(tmp_path, ["64 KiB", "1 MiB", "64 MiB"])
    assert main(["report", *results, "--out", str(tmp_path / "rep")]) == 0
    text = (tmp_path / "rep" / "report.md").read_text()
    assert "## DRAM traffic vs SRAM size" in text
    assert (tmp_path / "rep" / "figures" / "dram_vs_sram.svg").exists()


def test_runs_without_a_sweep_leave_the_figure_out(tmp_path, capsys):
    results = _results(tmp_path, ["512 KiB"])
    assert main(["report", *results, "--out", str(tmp_path / "rep")]) == 0
    text = (tmp_path / "rep" / "report.md").read_text()
    assert "SRAM size" not in text
    assert not (tmp_path / "rep" / "figures" / "dram_vs_sram.svg").exists()
