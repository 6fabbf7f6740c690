"""Running a sweep: validate the spec, reuse finished points, run the rest on an
executor, then write the results table and the Pareto figure."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

import accelsim
from accelsim.errors import AccelsimError
from accelsim.explore.executors import SweepExecutor, make_executor
from accelsim.explore.figure import write_pareto_figure
from accelsim.explore.spec import Point, load_spec
from accelsim.explore.store import PointStore
from accelsim.explore.tables import results_frame, write_tables

PointHook = Callable[[Point, dict[str, Any]], None]


class SweepPointError(AccelsimError):
    """Some points failed to simulate; the others' results were written."""


def run_sweep(spec_path: str | Path, out_dir: str | Path,
              executor: str | SweepExecutor = "local",
              scheduler: str | None = None, workers: int | None = None, *,
              progress: bool = False, on_point: PointHook | None = None) -> pd.DataFrame:
    """Run every point of the spec not already in ``out_dir/points``; return the table.

    The table (also ``results.csv``/``results.parquet``) has one row per point in spec
    order; ``executor`` is "local", "dask" or a :class:`SweepExecutor` instance.
    ``frame.attrs["sweep"]`` says how many points were computed and reused, where
    they ran and which files were written. ``on_point(point, row)`` is called after each
    computed point is saved. Raises ConfigError before any work on a bad spec or option,
    and SweepPointError (after writing the rest) when points fail.
    """
    started = time.perf_counter()
    runner = make_executor(executor, scheduler, workers)
    spec = load_spec(spec_path)
    out_dir = Path(out_dir)
    store = PointStore(out_dir)

    rows: dict[int, dict[str, Any]] = {}
    todo: dict[str, list[Point]] = {}  # key -> the points sharing it (computed once)
    for point in spec.points:
        stored = store.load(point.key)
        if stored is not None:
            rows[point.index] = {**stored, **point.inputs()}
        else:
            todo.setdefault(point.key, []).append(point)
    reused = len(rows)
    failures: list[tuple[Point, BaseException]] = []

    from tqdm import tqdm

    with tqdm(total=len(spec.points), initial=reused, desc=f"sweep {spec.name}",
              unit="point", disable=not progress) as bar:
        first = [points[0] for points in todo.values()]
        for done in runner.run(first):
            if done.error is not None:
                failures.append((done.point, done.error))
            else:
                store.save(done.point.key, done.row, _provenance(done.point))
                for twin in todo[done.point.key]:
                    rows[twin.index] = {**done.row, **twin.inputs()}
                if on_point is not None:
                    on_point(done.point, done.row)
            bar.update(len(todo[done.point.key]))

    frame = results_frame(list(rows.values()), spec.override_keys)
    outputs = []
    if not frame.empty:
        outputs = write_tables(frame, out_dir)
        outputs += write_pareto_figure(frame, out_dir, _title(spec.name, frame))
    frame.attrs["sweep"] = {
        "spec": str(spec_path), "points": len(spec.points),
        "computed": len(rows) - reused, "reused": reused,
        "failed": len(spec.points) - len(rows), "executor": runner.label,
        "outputs": [str(path) for path in outputs],
        "elapsed_s": time.perf_counter() - started,
    }
    if failures:
        point, error = failures[0]
        raise SweepPointError(
            f"{spec_path}: {len(spec.points) - len(rows)} of {len(spec.points)} points "
            f"failed (rerun to retry them; the others are in {out_dir}); first: "
            f"{point.describe()}: {type(error).__name__}: {error}")
    return frame


def _provenance(point: Point) -> dict[str, Any]:
    return {"accelsim": accelsim.__version__, "trace_sha256": point.trace.sha256,
            "hardware_fingerprint": point.hardware.fingerprint(),
            "hardware": point.hardware.to_dict(),
            "written_unix_s": round(time.time(), 3)}


def _title(name: str, frame: pd.DataFrame) -> str:
    nets = ", ".join(dict.fromkeys(frame["net"]))
    return f"{name}: energy vs cycles of training, {nets} ({len(frame)} points)"
