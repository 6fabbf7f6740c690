"""The report's figures, drawn with matplotlib's object API (Agg; pyplot's state untouched).

Each ``draw_*`` function returns a Figure, or a string saying why the figure is skipped
(the data it needs is absent). Bytes and energy are in the readable SI unit (GB/MB/kB,
J/mJ/µJ) of the largest value each figure shows; the energy and DRAM bar figures show
each run's totals or, with ``per="step"``, its totals per training step, and say which.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter

from accelsim.hw.units import display_scale
from accelsim.report import palette
from accelsim.report.runs import Run
from accelsim.report.tables import ordered
from accelsim.sim.lowering import PHASES
from accelsim.sim.results import ENERGY_PARTS, TRAFFIC_CLASSES

FORMATS = ("png", "svg")
PNG_DPI = 150
STYLE = {
    "font.size": 9.5, "axes.titlesize": 10.5, "axes.titleweight": "bold",
    "axes.labelsize": 9.5, "legend.fontsize": 8.5, "legend.frameon": False,
    "axes.spines.top": False, "axes.spines.right": False,
    "axes.grid": True, "grid.color": "#DDDDDD", "grid.linewidth": 0.6,
    "axes.axisbelow": True, "svg.hashsalt": "accelsim-report", "svg.fonttype": "path",
}
MAX_COLUMNS = 3  # per-step figures: a column per net (and design), up to this many
# More layers, or longer names, are drawn as horizontal bars with the names on the y axis.
MAX_VERTICAL_LAYERS = 12
MAX_VERTICAL_LABEL_CHARS = 90  # what fits side by side under a 10-inch figure
WIDTH_IN = 10.0
MIN_ACCURACY_SPAN = 3.0  # percentage points the accuracy axis spans at least


PER = ("run", "step")  # what the energy and DRAM bar figures are normalised to
PER_WORDS = {"run": "per training run", "step": "per training step"}


@dataclass(frozen=True)
class Data:
    """What every figure draws from: runs, their tables and styles, and whether the bar
    figures show totals per run or per training step."""

    runs: list[Run]
    tables: dict[str, list[dict[str, Any]]]
    styles: dict[str, palette.RunStyle]
    per: str = "run"

    def divisor(self, run: Run) -> float:
        """What a run's totals are divided by in the bar figures: 1, or its steps."""
        if self.per == "step":
            steps = run.totals["training_steps"]
            return float(steps) if steps else float("nan")
        return 1.0


def _longest(values: dict[str, list[float]]) -> float:
    """The longest stacked bar of ``values`` (category -> one value per run)."""
    return float(np.nanmax(np.sum([values[key] for key in values], axis=0), initial=0.0))


def _scaled(values: dict[str, list[float]], kind: str) -> tuple[dict[str, list[float]], str]:
    """Stacked bar values (base units) in the SI unit of the longest bar, and its name."""
    factor, name = display_scale(_longest(values), kind)
    return {key: [v / factor for v in series] for key, series in values.items()}, name


def draw_energy(data: Data) -> Figure | str:
    """(a) Energy per run (or per training step) stacked by component."""
    values = {part: [_lookup(data.tables["energy_by_component"], run.label, "component",
                             part, "energy_pj") / data.divisor(run) for run in data.runs]
              for part in ENERGY_PARTS}
    values, unit = _scaled(values, "energy")
    fig, ax = _bar_figure(len(data.runs), panels=1)
    longest = _stacked_barh(ax[0], data.runs, values, palette.COMPONENT_COLOURS,
                            palette.COMPONENT_NAMES, unit, percent=True)
    _room_for_totals(ax, longest)
    ax[0].set_xlabel(f"energy {PER_WORDS[data.per]} ({unit})")
    ax[0].set_title(f"Energy by component, {PER_WORDS[data.per]}")
    return fig


def draw_dram(data: Data) -> Figure | str:
    """(b) DRAM bytes per run (or per training step): by phase (read + written), read by
    operand, written by operand; the three panels share one scale and unit."""
    phase_rows, operand_rows = data.tables["dram_by_phase"], data.tables["dram_by_operand"]
    phases = list(dict.fromkeys(row["phase"] for row in phase_rows))
    panels = [
        ("read + written, by phase", {
            phase: [_lookup(phase_rows, run.label, "phase", phase, "dram_bytes")
                    / data.divisor(run) for run in data.runs]
            for phase in ordered(phases, PHASES)},
         palette.PHASE_COLOURS, palette.PHASE_NAMES),
        *((f"{title}, by operand", {
            operand: [_lookup(operand_rows, run.label, "operand", operand, column)
                      / data.divisor(run) for run in data.runs]
            for operand in TRAFFIC_CLASSES},
          palette.OPERAND_COLOURS, palette.OPERAND_NAMES)
          for title, column in (("read", "dram_read_bytes"), ("written", "dram_write_bytes"))),
    ]
    factor, unit = display_scale(_longest(panels[0][1]), "size")  # read + written: longest
    panels = [(title, {key: [v / factor for v in series] for key, series in values.items()},
               colours, names) for title, values, colours, names in panels]
    fig, axes = _bar_figure(len(data.runs), panels=3)
    longest = max(_stacked_barh(ax, data.runs, values, colours, names, unit)
                  for ax, (_, values, colours, names) in zip(axes, panels, strict=True))
    for ax, (title, *_) in zip(axes, panels, strict=True):
        ax.set_title(f"DRAM bytes {title}", loc="left")
        ax.tick_params(labelbottom=True)
    _room_for_totals(axes, longest)
    axes[-1].set_xlabel(f"DRAM traffic {PER_WORDS[data.per]} ({unit})")
    fig.suptitle(f"DRAM traffic {PER_WORDS[data.per]}", fontweight="bold")
    return fig


def draw_dram_per_step(data: Data) -> Figure | str:
    """(c) DRAM bytes read + written per training step, and the weight reads among them;
    a column of panels per net and hardware design (when there are a few)."""
    runs = [run for run in data.runs if _series(run, "dram_read_bytes")
            and _series(run, "dram_write_bytes")]
    if not runs:
        return "no result has per-step DRAM counts"
    if all(len(_series(run, "step")) < 2 for run in runs):
        return "every result covers a single recorded step: there is nothing to draw over steps"
    columns = _columns(runs, lambda run: (run.net, run.hardware_key))
    largest = max(max(np.asarray(_series(run, "dram_read_bytes"), dtype=float)
                      + np.asarray(_series(run, "dram_write_bytes"), dtype=float))
                  for run in runs)
    factor, unit = display_scale(largest, "size")
    fig = _figure(6.4)
    axes = fig.subplots(2, len(columns), sharex="col", sharey="row", squeeze=False)
    for column, (title, members) in enumerate(columns):
        top, bottom = axes[:, column]
        for run in members:
            steps = np.asarray(_series(run, "step"), dtype=float)
            total = (np.asarray(_series(run, "dram_read_bytes"), dtype=float)
                     + np.asarray(_series(run, "dram_write_bytes"), dtype=float))
            _line(top, steps, total / factor, run, data)
            weights = _series(run, "weight_dram_read_bytes")
            if weights:
                _line(bottom, steps, np.asarray(weights, dtype=float) / factor, run, data)
        top.set_title(title)
        top.set_ylim(bottom=0)
        bottom.set_ylim(bottom=0)
        bottom.set_xlabel("training step")
    for ax in axes[1]:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0, 0].set_ylabel(f"read + written\n({unit} per step)")
    axes[1, 0].set_ylabel(f"weight reads, values +\nmetadata ({unit} per step)")
    fig.suptitle("Off-chip traffic per training step", fontweight="bold")
    _figure_legend(fig, axes.flat)
    fig.align_ylabels()
    return fig


def draw_stored_set(data: Data) -> Figure | str:
    """(d) Stored weights per step (top) and churn from the second recorded step on; a
    column per net; runs of one trace (on several designs) share one line."""
    runs = [run for run in data.runs if _series(run, "stored_weights")]
    if not runs:
        return "no result has the per-step stored-weight count"
    if all(len(_series(run, "step")) < 2 for run in runs):
        return "every result covers a single recorded step: there is no churn to draw"
    columns = _columns(runs, lambda run: run.net)
    fig = _figure(6.4)
    axes = fig.subplots(2, len(columns), sharex="col", sharey="row", squeeze=False)
    stored_all = []
    for column, (title, members) in enumerate(columns):
        top, bottom = axes[:, column]
        for label, run in _same_trace(members):
            steps = np.asarray(_series(run, "step"), dtype=float)
            stored = np.asarray(_series(run, "stored_weights"), dtype=float)
            stored_all.append(stored)
            _line(top, steps, stored, run, data, label=label, linestyle="-")
            churn = _series(run, "churn")
            if churn and len(churn) > 1:  # the first record is the set-up, not a change
                _line(bottom, steps[1:], np.asarray(churn[1:], dtype=float), run, data,
                      label=label, linestyle="-")
        top.set_title(title)
        bottom.set_xlabel("training step")
    low, high = min(s.min() for s in stored_all), max(s.max() for s in stored_all)
    if low > 0 and high / low > 20:
        axes[0, 0].set_yscale("log")
    else:
        axes[0, 0].set_ylim(bottom=0)
        axes[0, 0].yaxis.set_major_locator(MaxNLocator(integer=True))
    axes[1, 0].set_ylim(0, max(axes[1, 0].get_ylim()[1], 1.0))  # all-zero churn: 0..1
    axes[1, 0].yaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in axes[:, 0]:
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
    for ax in axes[1]:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0, 0].set_ylabel("stored weights")
    axes[1, 0].set_ylabel("churn: weights entering\n+ leaving per step")
    fig.suptitle("Tracked set (top) and its churn from the second recorded step on (bottom)",
                 fontweight="bold")
    _figure_legend(fig, axes.flat)
    fig.align_ylabels()
    return fig


def draw_layers(data: Data) -> Figure | str:
    """(e) DRAM bytes per layer (read + written, all phases), one bar per run; a panel per net."""
    rows = data.tables["layers"]
    if not rows:
        return "no result has per-layer rows"
    nets = list(dict.fromkeys(run.net for run in data.runs))
    per_net = []
    for net in nets:
        runs = [run for run in data.runs if run.net == net]
        names = list(dict.fromkeys(row["layer"] for row in rows
                                   if row["run"] in {run.label for run in runs}))
        per_net.append((net, runs, names))
    horizontal = any(len(names) > MAX_VERTICAL_LAYERS
                     or sum(len(name) + 2 for name in names) > MAX_VERTICAL_LABEL_CHARS
                     for _, _, names in per_net)
    if horizontal:
        heights = [0.9 + len(names) * min(0.16 * max(1.0, len(runs) / 2), 0.3)
                   for _, runs, names in per_net]
    else:
        heights = [3.2] * len(per_net)
    fig = _figure(sum(heights) + 0.4 * len(per_net))
    axes = fig.subplots(len(per_net), 1, squeeze=False,
                        gridspec_kw={"height_ratios": heights})[:, 0]
    for ax, (net, runs, names) in zip(axes, per_net, strict=True):
        _layer_bars(ax, rows, runs, names, data, horizontal)
        ax.set_title(f"DRAM traffic per layer {PER_WORDS[data.per]}, read + written over "
                     f"all phases: {net}", loc="left")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), title="run")
    return fig


def draw_accuracy(data: Data) -> Figure | str:
    """(f) Final test accuracy vs compression for runs that differ only in their budget."""
    groups = budget_groups(data.runs)
    if not groups:
        return ("needs at least two runs that differ only in their budget (same net, "
                "method, dataset, batch size and hardware) with a known final accuracy")
    fig = _figure(4.2, width=7.5)
    ax = fig.subplots()
    ticks = set()
    several_designs = len({runs[0].hardware_key for runs, _ in groups}) > 1
    for runs, dense in groups:
        points = ([dense] if dense is not None else []) + runs
        x = [run.compression for run in points]
        y = [run.final_accuracy for run in points]
        ticks.update(x)
        style = data.styles[runs[0].label]  # the method's colour, its darkest shade
        first = runs[0]
        design = f", on {first.hardware_name}" if several_designs else ""
        ax.plot(x, y, marker="o", color=style.colour, linestyle=style.linestyle,
                label=f"{first.method_name}: {first.net} on "
                      f"{first.trace.get('dataset') or '?'}{design}")
        if dense is not None:
            ax.plot([1.0], [dense.final_accuracy], marker="s", markersize=8, linestyle="none",
                    color=palette.METHOD_COLOURS["dense"])
        for xi, yi in zip(x, y, strict=True):
            ax.annotate(f"{yi:.1f}%", (xi, yi), textcoords="offset points", xytext=(0, 9),
                        ha="center", fontsize=8)
    if any(dense is not None for _, dense in groups):
        ax.plot([], [], marker="s", linestyle="none", color=palette.METHOD_COLOURS["dense"],
                label="Dense (1x)")
    ax.set_xscale("log")
    ax.set_xticks(sorted(ticks), [f"{t:.3g}x" for t in sorted(ticks)])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("compression (parameters / stored weights, log scale)")
    ax.set_ylabel("final test accuracy (%)")
    ax.set_title("Accuracy vs compression (one training run per point)")
    ax.margins(x=0.08, y=0.15)
    low, high = ax.get_ylim()
    if high - low < MIN_ACCURACY_SPAN:  # a 0.5-point seed wobble must not look like a cliff
        middle = (low + high) / 2
        ax.set_ylim(middle - MIN_ACCURACY_SPAN / 2, middle + MIN_ACCURACY_SPAN / 2)
    ax.legend(loc="best")
    return fig


def sram_groups(runs: list[Run]) -> list[list[Run]]:
    """Runs of one trace on descriptions that differ only in their SRAM capacity (at least
    two capacities), each group by capacity."""
    keyed: dict[str, list[Run]] = {}
    for run in runs:
        description = (run.result.get("hardware") or {}).get("description")
        if not isinstance(description, dict) or "sram" not in description:
            continue
        rest = json.loads(json.dumps(description))
        for key in ("name", "description", "source"):
            rest.pop(key, None)
        sram = rest["sram"]
        for key in ("capacity_bytes", "buffers", "leakage_power_w", "read_energy_pj",
                    "write_energy_pj", "ifmap_capacity_bytes", "filter_capacity_bytes",
                    "ofmap_capacity_bytes"):
            sram.pop(key, None)  # follow from the capacity
        key = json.dumps([run.trace.get("path"), rest], sort_keys=True)
        keyed.setdefault(key, []).append(run)
    return [sorted(members, key=_sram_capacity) for members in keyed.values()
            if len({_sram_capacity(run) for run in members}) >= 2]


def _sram_capacity(run: Run) -> float:
    return float(run.result["hardware"]["description"]["sram"]["capacity_bytes"])


def draw_dram_vs_sram(data: Data) -> Figure | str:
    """(g) DRAM bytes per training step against SRAM capacity, for one trace swept over
    descriptions that differ only in their SRAM size."""
    groups = sram_groups(data.runs)
    if not groups:
        return ("needs runs of one trace on descriptions that differ only in their SRAM "
                "capacity (an accelsim sweep over sram.capacity)")
    fig = _figure(4.2, width=7.5)
    ax = fig.subplots()
    for runs in groups:
        x = [_sram_capacity(run) / 2**20 for run in runs]
        y = [(run.totals["dram_read_bytes"] + run.totals["dram_write_bytes"])
             / max(run.totals["training_steps"], 1) / 1e6 for run in runs]
        style = data.styles[runs[0].label]
        ax.plot(x, y, marker="o", color=style.colour, linestyle=style.linestyle,
                label=f"{runs[0].net} ({runs[0].method_name}) on {runs[0].hardware_name}")
    ax.set_xscale("log")
    ax.set_xlabel("SRAM capacity (MiB, log scale)")
    ax.set_ylabel("DRAM MB read + written per training step")
    ax.set_title("DRAM traffic vs SRAM size (on-chip residency: docs/simulator.md)")
    ax.set_ylim(bottom=0)
    ax.legend(loc="best")
    return fig


def budget_groups(runs: list[Run]) -> list[tuple[list[Run], Run | None]]:
    """Runs differing only in budget (>= 2 compressions), by compression, with their dense."""
    keyed: dict[tuple, list[Run]] = {}
    for run in runs:
        if run.method != "dense" and run.compression is not None \
                and run.final_accuracy is not None:
            keyed.setdefault((*run.workload_key, run.method, run.hardware_key), []).append(run)
    groups = []
    for members in keyed.values():
        if len({run.compression for run in members}) < 2:
            continue
        dense = next((run for run in runs if run.method == "dense"
                      and run.workload_key == members[0].workload_key
                      and run.final_accuracy is not None), None)
        groups.append((sorted(members, key=lambda run: run.compression), dense))
    return groups


# Figures that only some sets of runs call for: left out of a report, not "not drawn".
OPTIONAL_FIGURES = frozenset({"dram_vs_sram"})
# name -> (title in report.md, how to read it, drawing function)
FIGURES: dict[str, tuple[str, str, Callable[[Data], Figure | str]]] = {
    "energy_by_component": (
        "Energy by component",
        "One bar per run, split into MAC, SRAM, DRAM, regeneration and leakage energy; "
        "the label at the end is the total, the numbers inside the share of each part.",
        draw_energy),
    "dram_by_phase_operand": (
        "DRAM traffic by phase and by operand",
        "Top: each run's DRAM bytes (read + written) split by training phase; middle and "
        "bottom: the bytes read and written split by operand (weights, their metadata, "
        "activations, gradients, ...). The three panels share one scale.",
        draw_dram),
    "dram_per_step": (
        "Off-chip traffic over training steps",
        "DRAM bytes read + written in each recorded training step, one line per run "
        "(top), and the weight reads among them (bottom); a flat line means every step "
        "costs the same.",
        draw_dram_per_step),
    "stored_set": (
        "Tracked set and churn over training steps",
        "Top: how many weights each run stores at every step (dense stores all); bottom: "
        "how many weights enter or leave the stored set per step, from the second recorded "
        "step on (the first record only sets the set up).",
        draw_stored_set),
    "dram_by_layer": (
        "DRAM traffic per layer",
        "For each layer (in execution order), one bar per run: DRAM bytes read + written, "
        "summed over the forward, backward and update phases.",
        draw_layers),
    "accuracy_vs_compression": (
        "Accuracy vs compression",
        "Final test accuracy of runs that differ only in their budget, against compression "
        "on a log scale; the square at 1x is the dense run.",
        draw_accuracy),
    "dram_vs_sram": (
        "DRAM traffic vs SRAM size",
        "DRAM bytes per training step of one trace on descriptions that differ only in "
        "their SRAM capacity: what stays on chip between its uses stops moving off chip.",
        draw_dram_vs_sram),
}


def render(name: str, data: Data, folder: Path) -> list[Path] | str:
    """Draw figure ``name`` into ``folder`` as PNG and SVG; or the reason it is skipped."""
    with matplotlib.rc_context(STYLE):
        figure = FIGURES[name][2](data)
        if isinstance(figure, str):
            return figure
        paths = []
        for fmt in FORMATS:
            path = folder / f"{name}.{fmt}"
            figure.savefig(path, format=fmt, dpi=PNG_DPI,
                           metadata={"Date": None} if fmt == "svg" else {"Software": None})
            paths.append(path)
    return paths


# -- helpers -------------------------------------------------------------------------------

def _figure(height_in: float, width: float = WIDTH_IN) -> Figure:
    return Figure(figsize=(width, height_in), layout="constrained")


def _bar_figure(n_runs: int, panels: int) -> tuple[Figure, list]:
    panel_in = 0.7 + 0.42 * n_runs
    fig = _figure(panels * panel_in + 0.6)
    axes = fig.subplots(panels, 1, sharex=True, squeeze=False)[:, 0]
    return fig, list(axes)


def _stacked_barh(ax, runs: list[Run], values: dict[str, list[float]], colours, names,
                  unit: str, percent: bool = False) -> float:
    """One horizontal bar per run (top to bottom in input order), stacked by category;
    returns the longest bar."""
    y = np.arange(len(runs))
    left = np.zeros(len(runs))
    totals = np.sum([values[key] for key in values], axis=0)
    for key, series in values.items():
        widths = np.asarray(series, dtype=float)
        bars = ax.barh(y, widths, left=left, height=0.62, color=colours[key],
                       label=names.get(key, key) if widths.any() else None,
                       edgecolor="white", linewidth=0.6)
        if percent:
            _label_shares(ax, bars, widths, totals, colours[key])
        left += widths
    for yi, total in zip(y, totals, strict=True):
        ax.annotate(f"{total:,.4g} {unit}", (total, yi), xytext=(4, 0),
                    textcoords="offset points", va="center", fontsize=8.5)
    ax.set_yticks(y, [run.label for run in runs])
    ax.set_ylim(len(runs) - 0.5, -0.5)
    ax.grid(axis="y", visible=False)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return float(totals.max())


def _room_for_totals(axes, longest: float) -> None:
    """One x range for every panel, with room right of the longest bar for its total."""
    for ax in axes:
        ax.set_xlim(0, max(longest, 1e-12) * 1.16)


def _label_shares(ax, bars, widths, totals, colour: str) -> None:
    largest = totals.max()
    for bar, width, total in zip(bars, widths, totals, strict=True):
        if total > 0 and width >= 0.09 * largest:
            x = bar.get_x() + width / 2
            ax.text(x, bar.get_y() + bar.get_height() / 2, f"{100 * width / total:.0f}%",
                    ha="center", va="center", fontsize=8, color=_text_on(colour))


def _text_on(colour: str) -> str:
    r, g, b = matplotlib.colors.to_rgb(colour)
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.55 else "white"


def _layer_bars(ax, rows, runs: list[Run], names: list[str], data: Data,
                horizontal: bool) -> None:
    position = np.arange(len(names))
    width = 0.8 / len(runs)
    traffic = {run.label: np.zeros(len(names)) for run in runs}
    for run in runs:
        for row in rows:
            if row["run"] == run.label:
                traffic[run.label][names.index(row["layer"])] += (
                    row["dram_read_bytes"] + row["dram_write_bytes"]) / data.divisor(run)
    factor, unit = display_scale(max(float(np.nanmax(v, initial=0.0))
                                     for v in traffic.values()), "size")
    for index, run in enumerate(runs):
        mb = traffic[run.label] / factor
        style = data.styles[run.label]
        offset = position - 0.4 + width * (index + 0.5)
        bar = ax.barh if horizontal else ax.bar
        label = run.label.removeprefix(f"{run.net} ")  # the panel's title names the net
        bar(offset, mb, width, color=style.colour, hatch=style.hatch, label=label,
            edgecolor="white", linewidth=0.4)
    if horizontal:
        ax.set_yticks(position, names)
        ax.set_ylim(len(names) - 0.5, -0.5)
        ax.set_xlabel(f"DRAM traffic {PER_WORDS[data.per]} ({unit})")
        ax.set_ylabel("layer (name in the trace)")
        ax.grid(axis="y", visible=False)
    else:
        ax.set_xticks(position, names)
        ax.set_ylabel(f"DRAM traffic {PER_WORDS[data.per]} ({unit})")
        ax.set_xlabel("layer (name in the trace)")
        ax.grid(axis="x", visible=False)


def _line(ax, steps, values, run: Run, data: Data, label: str | None = None,
          linestyle: str | None = None) -> None:
    """One run's line; dense lines are wide and pale beneath the others, so a method that
    costs exactly what dense costs stays visible on top of it."""
    style = data.styles[run.label]
    dense = run.method == "dense"
    ax.plot(steps, values, color=style.colour, linestyle=linestyle or style.linestyle,
            linewidth=3.4 if dense else 1.6, alpha=0.5 if dense else 1.0,
            zorder=2 if dense else 3, marker="o" if len(steps) < 2 else None,
            label=label or run.label)


def _figure_legend(fig: Figure, axes) -> None:
    """One legend for every line of ``axes`` (each label once), right of the panels."""
    handles = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    longest = max(len(label) for label in handles)
    fig.legend(handles.values(), handles.keys(), loc="outside lower center",
               ncols=max(1, min(len(handles), 3 if longest < 40 else 2)))


def _columns(runs: list[Run], key) -> list[tuple[str, list[Run]]]:
    """Runs split into columns of panels by ``key`` (net, or net and design), titled by
    what differs; all in one column when there are more than MAX_COLUMNS."""
    keys = list(dict.fromkeys(key(run) for run in runs))
    if len(keys) == 1 or len(keys) > MAX_COLUMNS:
        return [("", runs)]
    several_nets = len({run.net for run in runs}) > 1
    columns = []
    for value in keys:
        members = [run for run in runs if key(run) == value]
        hardware = {run.hardware_key for run in members} != {r.hardware_key for r in runs}
        title = " ".join(([members[0].net] if several_nets else [])
                         + ([f"on {members[0].hardware_name}"] if hardware else []))
        columns.append((title, members))
    return columns


def _same_trace(runs: list[Run]) -> list[tuple[str, Run]]:
    """Runs of one trace (the same training run replayed on several designs) merged into
    one line: (legend label, first run)."""
    groups: dict[tuple, list[Run]] = {}
    for run in runs:
        key = (run.trace.get("path"), run.method, repr(run.trace.get("method_params")),
               *(tuple(run.per_step.get(k) or ()) for k in ("step", "stored_weights",
                                                             "churn")))
        groups.setdefault(key, []).append(run)
    merged = []
    for members in groups.values():
        first = members[0]
        suffix = f" on {first.hardware_name}"
        if len(members) > 1 and first.label.endswith(suffix):
            names = ", ".join(run.hardware_name for run in members)
            label = f"{first.label[:-len(suffix)]} (on {names})"
        else:
            label = "; ".join(run.label for run in members)
        merged.append((label, first))
    return merged


def _series(run: Run, key: str) -> list | None:
    """A per-step series with a value at every step, else None."""
    values = run.per_step.get(key)
    steps = run.per_step.get("step")
    if not values or not steps or len(values) != len(steps) \
            or any(v is None for v in values):
        return None
    return values


def _lookup(rows, run: str, column: str, key: str, value: str) -> float:
    return next((row[value] for row in rows if row["run"] == run and row[column] == key), 0.0)
