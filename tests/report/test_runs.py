"""Reading results: bad files raise ConfigError naming the file before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from report_support import make_result, write_result

from accelsim.errors import ConfigError
from accelsim.report import write_report
from accelsim.report.runs import load_runs


def _bad_inputs(folder: Path) -> dict[str, Path]:
    good = make_result()
    cases = {
        "missing": folder / "nowhere.json",
        "not-json": folder / "garbage.json",
        "a-list": folder / "list.json",
        "no-format": folder / "no-format.json",
        "no-totals": folder / "no-totals.json",
        "other-version": folder / "v2.json",
        "bad-total": folder / "bad-total.json",
        "bad-layer": folder / "bad-layer.json",
    }
    cases["not-json"].write_text("{ this is not json")
    cases["a-list"].write_text("[1, 2, 3]")
    cases["no-format"].write_text(json.dumps({k: v for k, v in good.items() if k != "format"}))
    cases["no-totals"].write_text(json.dumps({k: v for k, v in good.items() if k != "totals"}))
    cases["other-version"].write_text(json.dumps({**good, "version": 99}))
    cases["bad-total"].write_text(json.dumps(
        {**good, "totals": {**good["totals"], "cycles": "many"}}))
    cases["bad-layer"].write_text(json.dumps({**good, "layers": [{"name": "fc1"}]}))
    return cases


@pytest.mark.parametrize("case", ["missing", "not-json", "a-list", "no-format", "no-totals",
                                  "other-version", "bad-total", "bad-layer"])
def test_bad_input_names_the_file_and_writes_nothing(results_dir, tmp_path, case):
    bad = _bad_inputs(results_dir)[case]
    good = write_result(results_dir, "good")
    out = tmp_path / "report"
    with pytest.raises(ConfigError, match=bad.name):
        write_report([good, bad], out)
    assert not out.exists()


def test_bad_input_leaves_an_existing_report_untouched(results_dir, tmp_path):
    out = tmp_path / "report"
    out.mkdir()
    (out / "report.md").write_text("the previous report\n")
    bad = _bad_inputs(results_dir)["other-version"]
    with pytest.raises(ConfigError, match="version 99"):
        write_report([bad], out)
    assert [p.name for p in out.iterdir()] == ["report.md"]
    assert (out / "report.md").read_text() == "the previous report\n"


def test_no_results_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="no result files"):
        write_report([], tmp_path / "report")


def test_labels_are_unique_and_say_method_budget_and_hardware(results_dir):
    dense = write_result(results_dir, "dense")
    dropback = write_result(results_dir, "db25", method="dropback", compression=25)
    runs = load_runs([dense, dropback, dropback])
    labels = [run.label for run in runs]
    assert labels[0] == "Dense on dropback-edge"
    assert labels[1].startswith("DropBack 25x on dropback-edge")
    assert len(set(labels)) == 3


def test_labels_name_the_net_when_runs_span_nets(results_dir):
    a = write_result(results_dir, "a", net="lenet-5")
    b = write_result(results_dir, "b", net="lenet-300-100")
    assert [run.label for run in load_runs([a, b])] == [
        "lenet-5 Dense on dropback-edge", "lenet-300-100 Dense on dropback-edge"]


def test_compression_of_each_method(results_dir):
    swd = make_result(method="swd")
    swd["trace"]["method_params"] = {"target": 0.9, "kept_weights": 1000}
    pruning = make_result(method="filter_pruning")
    pruning["trace"]["method_params"] = {"target": 0.5}
    paths = []
    for name, result in (("swd", swd), ("fp", pruning)):
        paths.append(results_dir / f"{name}.json")
        paths[-1].write_text(json.dumps(result))
    dropback = write_result(results_dir, "db", method="dropback", compression=8)
    runs = load_runs([*paths, dropback])
    assert [run.compression for run in runs] == pytest.approx([10.0, 2.0, 8.0])
