"""Run labels name what differs: optimizer, hyper-parameters, lr schedule, dataset, ..."""

from __future__ import annotations

import json

from report_support import make_result, write_result

from accelsim.hw.units import display_scale, readable
from accelsim.report.labels import describe_training, differing_text
from accelsim.report.runs import load_runs
from accelsim.report.writer import write_report

SGD = {"optimizer": "sgd", "dataset": "mnist-5k", "batch_size": 64,
       "optimizer_params": {"lr": 0.1, "momentum": 0.9, "dampening": 0.0, "nesterov": False,
                            "weight_decay": 0.0,
                            "lr_schedule": {"kind": "step", "spec": "step:1:0.5"}},
       "extra": {"epochs": 30, "seed": 0}}
ADAM = {**SGD, "optimizer": "adam",
        "optimizer_params": {"lr": 1e-3, "betas": [0.9, 0.999], "eps": 1e-8,
                             "weight_decay": 1e-4, "amsgrad": False,
                             "lr_schedule": {"kind": "constant", "spec": "constant"}}}


def test_only_what_differs_is_named():
    texts = differing_text([describe_training(SGD), describe_training(ADAM)])
    assert texts == ["SGD lr 0.1 momentum 0.9, lr step:1:0.5",
                     "Adam lr 0.001 wd 0.0001, lr constant"]
    assert differing_text([describe_training(SGD)] * 2) == ["", ""]
    seed1 = {**SGD, "extra": {"epochs": 30, "seed": 1}, "dataset": "digits"}
    assert differing_text([describe_training(SGD), describe_training(seed1)]) == [
        "mnist-5k, seed 0", "digits, seed 1"]


def _with_settings(folder, name, settings, **kwargs):
    result = make_result(**kwargs)
    result["trace"].update(settings)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(result))
    return path


def test_report_labels_runs_apart_by_optimizer_and_says_so_in_report_json(results_dir):
    paths = [_with_settings(results_dir, "sgd", SGD), _with_settings(results_dir, "adam", ADAM)]
    labels = [run.label for run in load_runs(paths)]
    assert labels == ["Dense, SGD lr 0.1 momentum 0.9, lr step:1:0.5 on dropback-edge",
                      "Dense, Adam lr 0.001 wd 0.0001, lr constant on dropback-edge"]
    write_report(paths, results_dir / "report")
    report = json.loads((results_dir / "report" / "report.json").read_text())
    assert [run["label"] for run in report["runs"]] == labels
    assert [run["optimizer"] for run in report["runs"]] == ["sgd", "adam"]
    assert report["runs"][0]["lr_schedule"] == "step:1:0.5"


def test_settings_come_from_the_trace_file_when_the_result_lacks_them(tmp_path):
    from accelsim.cli import main

    trace = tmp_path / "adam.trace"
    assert main(["record", "--dataset", "synthetic", "--epochs", "1", "--optimizer", "adam",
                 "--out", str(trace), "--json"]) == 0
    result = make_result()
    result["trace"]["path"] = str(trace)
    path = tmp_path / "adam.json"
    path.write_text(json.dumps(result))
    (run,) = load_runs([path])
    assert run.optimizer == "adam" and run.optimizer_params["lr"] == 1e-3
    assert run.lr_schedule == "constant"


def test_bar_figures_go_per_step_when_runs_cover_different_steps(results_dir):
    short = write_result(results_dir, "short", steps=2)
    long = write_result(results_dir, "long", method="dropback", compression=10, steps=6)
    write_report([short, long], results_dir / "auto")
    report = json.loads((results_dir / "auto" / "report.json").read_text())
    assert report["units"]["bar_figures"] == "per training step"
    assert "values per training step" in (results_dir / "auto" / "report.md").read_text()
    write_report([short, long], results_dir / "run", per="run")
    report = json.loads((results_dir / "run" / "report.json").read_text())
    assert report["units"]["bar_figures"] == "per training run"


def test_readable_units():
    assert readable(1.276e12, "energy") == "1.276 J"
    assert readable(9.802e9, "energy") == "9.802 mJ"
    assert readable(74.07e6, "size") == "74.07 MB"
    assert readable(2.5e9, "size") == "2.5 GB"
    assert readable(0.0, "energy") == "0 pJ"
    assert display_scale(999e6, "energy") == (1e6, "µJ")


def test_a_simulated_result_carries_its_training_settings(tmp_path):
    # The replay copies optimizer, its hyper-parameters and extra into the result, so a
    # report labels the run even after the trace file is gone.
    from accelsim.cli import main

    trace = tmp_path / "adam.trace"
    assert main(["record", "--dataset", "synthetic", "--epochs", "1", "--optimizer", "adam",
                 "--out", str(trace), "--json"]) == 0
    result = tmp_path / "adam.json"
    assert main(["simulate", str(trace), "--hw", "dropback-edge", "--steps", "1:3",
                 "--out", str(result)]) == 0
    trace.unlink()
    (run,) = load_runs([result])
    assert run.optimizer == "adam" and run.optimizer_params["lr"] == 1e-3
