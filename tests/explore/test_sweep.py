"""Running sweeps: local processes and Dask give the same rows; resume recomputes only
what is missing; the tables and the figure come out right."""

import logging

import numpy as np
import pandas as pd
import pytest

from accelsim.explore import SweepPointError, load_spec, run_sweep
from accelsim.explore.task import run_point
from accelsim.hw import load_hardware
from accelsim.sim import simulate

from .conftest import DENSE, DROPBACK
from .support import InProcess

FIFTY_POINTS = """
hardware = ["dropback-edge"]
steps = "1:3"
[grid]
"sram.capacity" = ["32 KiB", "64 KiB", "128 KiB", "256 KiB", "1 MiB"]
"array.rows" = [8, 16, 24, 32, 64]
"""

TWELVE_POINTS = """
hardware = ["dropback-edge"]
steps = "1:3"
[grid]
"sram.capacity" = ["64 KiB", "256 KiB", "1 MiB"]
"array.rows" = [16, 32]
"""


@pytest.fixture(scope="module")
def cluster():
    """A real Dask cluster on loopback: 2 worker processes, 1 thread each."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None,
                                  scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                                  silence_logs=logging.ERROR) as local_cluster:
        yield local_cluster


def point_files(out):
    return {path.stem: path.stat().st_mtime_ns for path in (out / "points").glob("*.json")}


def test_local_and_dask_cluster_give_identical_rows(write_spec, tmp_path, cluster):
    spec = write_spec(FIFTY_POINTS)
    local = run_sweep(spec, tmp_path / "local", workers=2)
    dask = run_sweep(spec, tmp_path / "dask", executor="dask",
                     scheduler=cluster.scheduler_address)
    assert len(local) == 50 and local.attrs["sweep"]["computed"] == 50
    assert dask.attrs["sweep"]["executor"] == f"dask at {cluster.scheduler_address}"
    pd.testing.assert_frame_equal(local, dask, check_exact=True)
    assert point_files(tmp_path / "local").keys() == point_files(tmp_path / "dask").keys()
    # Spec order, not completion order.
    assert list(local["point"]) == list(range(50))
    assert list(local["trace"][:25]) == [str(DENSE)] * 25
    assert list(local["sram.capacity"][:6]) == ["32 KiB"] * 5 + ["64 KiB"]
    assert list(local["array.rows"][:6]) == [8, 16, 24, 32, 64, 8]

    # A row holds exactly what simulate() says for its point.
    row = local.iloc[25 + 7]  # dropback, 64 KiB, 24 rows
    assert (row["method"], row["sram.capacity"], row["array.rows"]) == ("dropback",
                                                                        "64 KiB", 24)
    hw = load_hardware("dropback-edge").replace({"sram.capacity": "64 KiB",
                                                 "array.rows": 24})
    totals = simulate(str(DROPBACK), hw, steps="1:3").totals
    assert {k: row[k] for k in totals} == totals
    dense, dropback = local.iloc[:25], local.iloc[25:]
    assert (dense["regen_values"] == 0).all() and (dropback["regen_values"] > 0).all()
    assert (dropback["weight_dram_read_bytes"].to_numpy()
            < dense["weight_dram_read_bytes"].to_numpy()).all()

    # The two tables load back and agree with the returned frame and with each other.
    parquet = pd.read_parquet(tmp_path / "local" / "results.parquet")
    pd.testing.assert_frame_equal(parquet, local, check_exact=True)
    csv = pd.read_csv(tmp_path / "local" / "results.csv")
    pd.testing.assert_frame_equal(csv, parquet, check_dtype=False, check_exact=True)


def test_dask_without_scheduler_runs_its_own_cluster_and_stops_it(write_spec, tmp_path):
    distributed = pytest.importorskip("distributed")
    path = write_spec('hardware = "edge-lpddr4"\nsteps = "1:3"\n[grid]\n'
                      '"array.rows" = [8, 16, 32]\n', traces=[DROPBACK])
    frame = run_sweep(path, tmp_path / "out", executor="dask", workers=2)
    assert frame.attrs["sweep"]["executor"] == "dask LocalCluster, 2 workers"
    expected = [run_point(point) for point in load_spec(path).points]
    for (_, row), want in zip(frame.iterrows(), expected, strict=True):
        assert {k: row[k] for k in want if k != "compression"} == {
            k: v for k, v in want.items() if k != "compression"}
    with pytest.raises(ValueError):
        distributed.default_client()  # closed, not left behind


def test_resume_recomputes_only_the_missing_points(write_spec, tmp_path):
    path, out = write_spec(TWELVE_POINTS), tmp_path / "out"
    first = run_sweep(path, out, workers=2)
    before = point_files(out)
    assert len(before) == 12
    deleted = sorted(before)[::4]
    for key in deleted:
        (out / "points" / f"{key}.json").unlink()
    computed = []  # the rerun in-process: resuming is run_sweep's job, not the executor's
    second = run_sweep(path, out, executor=InProcess(),
                       on_point=lambda point, row: computed.append(point.key))
    assert sorted(computed) == deleted
    assert (second.attrs["sweep"]["computed"], second.attrs["sweep"]["reused"]) == (3, 9)
    after = point_files(out)
    assert {k: after[k] for k in before if k not in deleted} == {
        k: t for k, t in before.items() if k not in deleted}  # untouched, not rewritten
    pd.testing.assert_frame_equal(first, second, check_exact=True)

    # A damaged file counts as missing; with everything present no process starts.
    (out / "points" / f"{deleted[0]}.json").write_text('{"format": "accelsim-sweep-po')
    runner = InProcess()
    third = run_sweep(path, out, executor=runner)
    assert runner.ran == [deleted[0]]
    pd.testing.assert_frame_equal(first, third, check_exact=True)


class Stop(Exception):
    """Stands in for a kill in the middle of a sweep."""


def test_an_interrupted_sweep_keeps_finished_points_and_resumes(write_spec, tmp_path):
    path, out = write_spec(TWELVE_POINTS), tmp_path / "out"
    finished = []

    def stop_after_four(point, row):
        finished.append(point.key)
        if len(finished) == 4:
            raise Stop

    with pytest.raises(Stop):
        run_sweep(path, out, workers=2, on_point=stop_after_four)
    assert sorted(point_files(out)) == sorted(finished)
    assert not (out / "results.csv").exists()
    assert not list((out / "points").glob(".*"))  # no half-written temporary files
    computed = []
    frame = run_sweep(path, out, executor=InProcess(),
                      on_point=lambda point, row: computed.append(point.key))
    assert len(computed) == 8 and not set(computed) & set(finished)
    assert frame.attrs["sweep"]["reused"] == 4
    expected = [run_point(point) for point in load_spec(path).points]
    assert frame["cycles"].tolist() == [row["cycles"] for row in expected]
    assert frame["energy_pj"].tolist() == [row["energy_pj"] for row in expected]


def test_failed_points_are_reported_the_rest_written_and_retried(write_spec, tmp_path):
    path, out = write_spec(TWELVE_POINTS), tmp_path / "out"
    flaky = InProcess(fail=lambda point: point.trace.method == "dropback")
    with pytest.raises(SweepPointError, match=r"6 of 12 points failed.*disk went away"):
        run_sweep(path, out, executor=flaky)
    table = pd.read_csv(out / "results.csv")
    assert list(table["point"]) == list(range(6)) and set(table["method"]) == {"dense"}
    retry = InProcess()
    frame = run_sweep(path, out, executor=retry)
    assert len(retry.ran) == 6 and len(frame) == 12
    assert frame.attrs["sweep"]["reused"] == 6


def test_identical_points_are_simulated_once(write_spec, tmp_path):
    path = write_spec('hardware = "edge-lpddr4"\nsteps = "1:3"\n[grid]\n'
                      '"sram.capacity" = ["64 KiB"]\n[[points]]\n"sram.capacity" = "64 KiB"\n',
                      traces=[DENSE])
    runner = InProcess()
    frame = run_sweep(path, tmp_path / "out", executor=runner)
    assert len(runner.ran) == 1
    assert list(frame["point"]) == [0, 1] and frame["cycles"].nunique() == 1


def test_figure_files_are_written(write_spec, tmp_path):
    frame = run_sweep(write_spec(TWELVE_POINTS), tmp_path / "out", executor=InProcess())
    png = (tmp_path / "out" / "pareto.png").read_bytes()
    svg = (tmp_path / "out" / "pareto.svg").read_text()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    assert "cycles (millions)" in svg and "energy (mJ)" in svg
    assert "Pareto front" in svg and "dropback 25x" in svg
    front = frame[frame["pareto_front"]]
    assert len(front) >= 1
    for _, row in front.iterrows():  # nothing is both faster and cheaper than a front point
        better = frame[(frame["cycles"] <= row["cycles"]) & (frame["energy_pj"] <=
                                                               row["energy_pj"])]
        assert ((better["cycles"] == row["cycles"]) & (better["energy_pj"] ==
                                                       row["energy_pj"])).all()
    assert np.isfinite(frame["energy_pj"]).all()


def test_each_fidelity_is_its_own_point_with_the_same_traffic(write_spec, tmp_path):
    path = write_spec('hardware = "dropback-edge"\nsteps = "1:3"\n'
                      'fidelity = ["fast", "event"]\n', traces=[DROPBACK])
    frame = run_sweep(path, tmp_path / "out", executor=InProcess())
    assert list(frame["fidelity"]) == ["fast", "event"]
    fast, event = frame.iloc[0], frame.iloc[1]
    for counter in ("dram_read_bytes", "dram_write_bytes", "regen_values", "macs"):
        assert fast[counter] == event[counter]
    assert {path.stem for path in (tmp_path / "out" / "points").glob("*.json")} == set(
        frame["key"])
