"""The Pareto figure of a sweep: energy against cycles, one marker per training method,
the front (no point both faster and cheaper) joined and ringed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from accelsim.files import write_bytes_atomic
from accelsim.hw.units import display_scale

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
CYCLE_SCALES = ((1e9, "billions"), (1e6, "millions"), (1e3, "thousands"))
MAX_FRONT_LABELS = 10


def method_label(method: str, compression: float | None) -> str:
    """How the legend names a trace's method: "dropback 25x", "dense"."""
    if compression is None or not np.isfinite(compression):
        return method
    return f"{method} {compression:.3g}x"


# Training settings that name a point's run in the legend when they vary across the sweep.
TRAINING_COLUMNS = ("net", "dataset", "optimizer", "lr_schedule")


def run_labels(frame: pd.DataFrame) -> list[str]:
    """Each point's run: method and budget, plus the training settings that vary across
    the sweep ("dense, Adam lr 0.001" / "dense, SGD lr 0.1"), so differing runs never share
    a legend entry."""
    varying = [c for c in TRAINING_COLUMNS
               if c in frame.columns and frame[c].astype(str).nunique() > 1]
    labels = []
    for _, row in frame.iterrows():
        parts = [method_label(row["method"], row["compression"])]
        parts += [f"lr {row[c]}" if c == "lr_schedule" else str(row[c]) for c in varying]
        labels.append(", ".join(parts))
    return labels


def write_pareto_figure(frame: pd.DataFrame, out_dir: Path, title: str) -> list[Path]:
    """``pareto.png`` and ``pareto.svg`` in ``out_dir``; ``frame`` is the results table."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure = pareto_figure(frame, title)
    paths = []
    for suffix, options in (("png", {"dpi": 150}), ("svg", {})):
        buffer = io.BytesIO()
        figure.savefig(buffer, format=suffix, bbox_inches="tight", **options)
        path = out_dir / f"pareto.{suffix}"
        write_bytes_atomic(path, buffer.getvalue())
        paths.append(path)
    plt.close(figure)
    return paths


def pareto_figure(frame: pd.DataFrame, title: str):
    """A matplotlib Figure of ``frame`` (needs cycles, energy_pj, method, compression,
    pareto_front)."""
    from matplotlib.figure import Figure

    cycles = frame["cycles"].to_numpy(dtype=float)
    energy = frame["energy_pj"].to_numpy(dtype=float)
    cycle_scale, cycle_words = _scale(cycles.max(), CYCLE_SCALES, (1.0, ""))
    energy_scale, energy_unit = display_scale(energy.max(), "energy")
    x, y = cycles / cycle_scale, energy / energy_scale
    labels = run_labels(frame)

    figure = Figure(figsize=(7.5, 5.0))
    axes = figure.add_subplot()
    for i, label in enumerate(dict.fromkeys(labels)):
        chosen = np.array([lab == label for lab in labels])
        axes.scatter(x[chosen], y[chosen], marker=MARKERS[i % len(MARKERS)], s=38,
                     color=f"C{i}", alpha=0.8, linewidths=0,
                     label=f"{label} ({chosen.sum()})", zorder=3)
    front = frame["pareto_front"].to_numpy(dtype=bool)
    order = np.argsort(x[front], kind="stable")
    fx, fy = x[front][order], y[front][order]
    axes.plot(fx, fy, color="black", linewidth=1.0, linestyle="--", drawstyle="steps-post",
              zorder=2, label=f"Pareto front ({front.sum()})")
    axes.scatter(fx, fy, s=110, facecolors="none", edgecolors="black", linewidths=1.2,
                 zorder=4)
    if front.sum() <= MAX_FRONT_LABELS:
        _label_front(axes, frame, frame[front].iloc[order], fx, fy)
    for values, set_scale in ((x, axes.set_xscale), (y, axes.set_yscale)):
        if values.min() > 0 and values.max() / values.min() > 20:
            set_scale("log")
    axes.set_xlabel(f"cycles ({cycle_words})" if cycle_words else "cycles")
    axes.set_ylabel(f"energy ({energy_unit})")
    axes.set_title(title, fontsize=11)
    axes.grid(True, which="major", alpha=0.3)
    axes.legend(title="run (points)", fontsize=9, title_fontsize=9, loc="best")
    figure.tight_layout()
    return figure


def _scale(largest: float, table, fallback) -> tuple[float, str]:
    for factor, name in table:
        if largest >= factor:
            return factor, name
    return fallback


def _label_front(axes, frame: pd.DataFrame, rows: pd.DataFrame, fx: np.ndarray,
                 fy: np.ndarray) -> None:
    """Name each front point by the settings that vary across the sweep: the hardware
    and the override values (the columns between "hardware" and "fidelity")."""
    columns = frame.columns[frame.columns.get_loc("hardware"):frame.columns.get_loc("fidelity")]
    varying = [c for c in columns if frame[c].astype(str).nunique() > 1]
    for (_, row), px, py in zip(rows.iterrows(), fx, fy, strict=True):
        text = ", ".join(str(row[c]) if c == "hardware" else f"{c}={row[c]}"
                         for c in varying if pd.notna(row[c]))
        if text:
            axes.annotate(text, (px, py), xytext=(7, 4), textcoords="offset points",
                          fontsize=7, color="0.25", zorder=5)
