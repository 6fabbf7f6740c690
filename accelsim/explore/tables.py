"""The results table of a sweep: one row per point, in spec order, as CSV and Parquet."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from accelsim.files import write_bytes_atomic, write_text_atomic
from accelsim.sim.results import COUNTER_NAMES, ENERGY_PARTS

INPUT_COLUMNS = ("point", "trace", "net", "method", "compression", "dataset", "optimizer",
                 "lr_schedule", "hardware")
RUN_COLUMNS = ("fidelity", "steps", "phases")
# The headline totals first (energy_pj.* right after energy_pj); every other counter
# follows in the simulator's order, whatever order a row's dict had.
HEADLINE = ("cycles", "energy_pj", "dram_read_bytes", "dram_write_bytes",
            "weight_dram_read_bytes", "regen_values", "macs")


def results_frame(rows: Sequence[dict[str, Any]], override_keys: Sequence[str]) -> pd.DataFrame:
    """Rows (any order) as a table sorted by point, columns: inputs, overrides, totals,
    ``pareto_front`` and the point's ``key``."""
    rows = sorted(rows, key=lambda row: row["point"])
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    inputs = [*INPUT_COLUMNS, *override_keys, *RUN_COLUMNS]
    counters = {c for c in frame.columns if c not in inputs and c != "key"}
    known = [*HEADLINE[:2], *(f"energy_pj.{part}" for part in ENERGY_PARTS), *HEADLINE[2:],
             *COUNTER_NAMES]
    ordered = [c for c in dict.fromkeys(known) if c in counters]
    ordered += sorted(counters - set(ordered))  # totals the simulator may add later
    frame = frame[[*inputs, *ordered]]
    frame["compression"] = frame["compression"].astype("float64")
    for key in override_keys:  # from the rows, as pandas turns [16, None] into floats
        frame[key] = _uniform(pd.Series([row.get(key) for row in rows], dtype=object))
    frame["pareto_front"] = pareto_mask(frame["cycles"].to_numpy(),
                                        frame["energy_pj"].to_numpy())
    frame["key"] = [row["key"] for row in rows]  # names the point's file, points/<key>.json
    return frame.reset_index(drop=True)


def pareto_mask(cycles: np.ndarray, energy: np.ndarray) -> np.ndarray:
    """True where no other point is at least as good in both and better in one."""
    order = np.lexsort((energy, cycles))  # by cycles, then energy
    front = np.zeros(cycles.size, dtype=bool)
    best_energy, best_cycles = np.inf, np.nan
    for i in order:
        if energy[i] < best_energy:
            best_energy, best_cycles = energy[i], cycles[i]
            front[i] = True
        elif energy[i] == best_energy and cycles[i] == best_cycles:
            front[i] = True  # an exact tie with a front point
    return front


def write_tables(frame: pd.DataFrame, out_dir: Path) -> list[Path]:
    """``results.csv`` and ``results.parquet`` in ``out_dir``, each written atomically."""
    csv_path, parquet_path = out_dir / "results.csv", out_dir / "results.parquet"
    write_text_atomic(csv_path, frame.to_csv(index=False))
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, engine="pyarrow")
    write_bytes_atomic(parquet_path, buffer.getvalue())
    return [csv_path, parquet_path]


def _uniform(column: pd.Series) -> pd.Series:
    """One type per override column, as Parquet needs: whole numbers as nullable Int64,
    numbers as float, anything mixed as text (lists as JSON)."""
    present = column.dropna()
    if present.map(lambda v: isinstance(v, bool)).all():
        return column.astype("boolean") if len(present) else column
    if present.map(lambda v: isinstance(v, int) and not isinstance(v, bool)).all():
        return column.astype("Int64")
    if present.map(lambda v: isinstance(v, int | float) and not isinstance(v, bool)).all():
        return column.astype("float64")
    return column.map(lambda v: v if v is None or isinstance(v, str) else
                      json.dumps(v) if isinstance(v, list | dict) else str(v))
