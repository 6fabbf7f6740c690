"""report.md: the report as a document that reads on its own."""

from __future__ import annotations

import math
from typing import Any

from accelsim.hw.description import DTYPE_BYTES, canonical_dtype
from accelsim.report import palette
from accelsim.report.figures import FIGURES
from accelsim.report.labels import describe_training, optimizer_text
from accelsim.report.runs import Run
from accelsim.report.tables import RATIO_METRICS, DisplayUnit, times
from accelsim.sim.results import ENERGY_PARTS, TRAFFIC_CLASSES

RATIO_HEADINGS = {"weight_dram_read_bytes": "weight DRAM reads", "dram_bytes": "all DRAM traffic",
                  "cycles": "cycles", "energy_pj": "energy"}


def render_report(runs: list[Run], tables: dict[str, list[dict]], ratios: list[dict],
                  figures: dict[str, dict[str, Any]], energy_unit: DisplayUnit,
                  byte_unit: DisplayUnit, per: str = "run") -> str:
    """report.md; tables hold totals per run, the bar figures are ``per`` run or step."""
    sections = [
        ["# accelsim report", "",
         f"{len(runs)} simulated training run{'s' if len(runs) != 1 else ''}. Bytes are "
         f"decimal {byte_unit.name} (10^{round(math.log10(byte_unit.factor))} bytes), energy is in "
         f"{energy_unit.name}, cycles are array clock cycles; the tables hold totals over "
         "the training steps each result covers, the energy and DRAM bar figures show "
         + ("each run's totals." if per == "run" else "values per training step (a "
            "run's totals divided by its training steps).") + "", "",
         *_steps_warning(runs)],
        _simulated(runs),
        _headline(runs, ratios),
        _energy(runs, tables["energy_by_component"], energy_unit, figures),
        _phases(runs, tables["dram_by_phase"], figures, byte_unit),
        _operands(runs, tables["dram_by_operand"], byte_unit),
        _over_steps(figures),
        _accuracy(runs, figures),
        _sram_sweep(figures),
        _layers(runs, tables["layers"], figures, byte_unit),
        _files(figures),
    ]
    return "\n".join(line for section in sections for line in section)


# -- sections ------------------------------------------------------------------------------

def _steps_warning(runs: list[Run]) -> list[str]:
    steps = sorted({run.totals["training_steps"] for run in runs})
    if len(steps) < 2:
        return []
    return [f"**Note:** the runs cover different numbers of training steps ({steps[0]:,.0f} "
            f"to {steps[-1]:,.0f}), so their totals in the tables and bar figures do not "
            "compare directly; the headline ratios are per training step.", ""]


def _simulated(runs: list[Run]) -> list[str]:
    lines = ["## What was simulated", "",
             _row("run", "net", "method", "budget", "dataset", "optimizer", "lr schedule",
                  "batch", "steps", "final accuracy", "hardware", "result file"),
             _row(*["---"] * 12)]
    for run in runs:
        steps = run.totals["training_steps"]
        recorded = len(run.per_step.get("step") or [])
        step_text = f"{steps:,.0f}" + (f" ({recorded:,} recorded)" if recorded
                                       and recorded != steps else "")
        accuracy = run.final_accuracy
        facets = describe_training({"dataset": run.trace.get("dataset"), **run.settings})
        lines.append(_row(run.label, run.net, run.method_name, budget_text(run),
                          run.trace.get("dataset") or "?", optimizer_text(facets),
                          run.lr_schedule or "?", run.trace.get("batch_size") or "?",
                          step_text, f"{accuracy:.2f}%" if accuracy is not None else "n/a",
                          run.hardware_name, f"`{run.path}`"))
    lines += ["", "### Hardware", ""]
    seen = set()
    for run in runs:
        if run.hardware_key in seen:
            continue
        seen.add(run.hardware_key)
        hardware = run.result["hardware"]
        description = hardware.get("description") or {}
        source = f" (`{hardware['source']}`)" if hardware.get("source") else ""
        note = f" *{description['description']}*" if description.get("description") else ""
        lines.append(f"- **{run.hardware_name}**{source}: {hardware_summary(description)}."
                     f"{note}")
    return lines + [""]


def _headline(runs: list[Run], ratios: list[dict]) -> list[str]:
    lines = ["## Headline: each method vs dense", ""]
    if all(run.method == "dense" for run in runs):
        return lines + ["Every run is dense: there is no method to compare with dense.", ""]
    if not ratios:
        return lines + ["No run has a dense run of the same net, dataset, batch size and "
                        "hardware to compare with, so there are no ratios.", ""]
    lines += [f"- {row['sentence']}" for row in ratios]
    lines += ["", "Ratios are dense / run per training step: above 1 the run needs less "
              "than dense.", "",
              _row("run", "vs", *(RATIO_HEADINGS[m] for m in RATIO_METRICS)),
              _row(*["---"] * (2 + len(RATIO_METRICS)))]
    for row in ratios:
        lines.append(_row(row["run"], row["baseline"],
                          *(f"{times(row[m])}x" for m in RATIO_METRICS)))
    unmatched = [run.label for run in runs if run.method != "dense"
                 and run.label not in {row["run"] for row in ratios}]
    if unmatched:
        lines += ["", "No dense run on the same net, dataset, batch size and hardware for: "
                  + ", ".join(unmatched) + "."]
    return lines + [""]


def _energy(runs, rows, unit: DisplayUnit, figures) -> list[str]:
    lines = ["## Energy by component", "",
             _row("run", *(palette.COMPONENT_NAMES[p] for p in ENERGY_PARTS), "total"),
             _row("---", *["---:"] * (len(ENERGY_PARTS) + 1))]
    for run in runs:
        cells = []
        for part in ENERGY_PARTS:
            row = _find(rows, run.label, "component", part)
            cells.append(f"{_num(row['energy_pj'] / unit.factor)} ({row['share_percent']:.1f}%)")
        lines.append(_row(run.label, *cells, f"{_num(run.total('energy_pj') / unit.factor)}"))
    lines[2] = lines[2].replace(" total |", f" total ({unit.name}) |")
    return lines + ["", *_figure_lines("energy_by_component", figures)]


def _phases(runs, rows, figures, unit: DisplayUnit) -> list[str]:
    def _mb(value: float) -> str:
        return _size(value, unit)

    lines = ["## DRAM traffic and cycles by phase", "",
             _row("run", "phase", f"DRAM read ({unit.name})", f"DRAM written ({unit.name})",
                  "cycles",
                  "share of cycles"),
             _row("---", "---", "---:", "---:", "---:", "---:")]
    for run in runs:
        total_cycles = run.totals["cycles"]
        for row in (r for r in rows if r["run"] == run.label):
            share = 100 * row["cycles"] / total_cycles if total_cycles else 0.0
            lines.append(_row(run.label, palette.PHASE_NAMES.get(row["phase"], row["phase"]),
                              _mb(row["dram_read_bytes"]), _mb(row["dram_write_bytes"]),
                              f"{row['cycles']:,.0f}", f"{share:.1f}%"))
        lines.append(_row(f"**{run.label}**", "**total**",
                          f"**{_mb(run.total('dram_read_bytes'))}**",
                          f"**{_mb(run.total('dram_write_bytes'))}**",
                          f"**{run.totals['cycles']:,.0f}**", ""))
    return lines + ["", *_figure_lines("dram_by_phase_operand", figures)]


def _operands(runs, rows, unit: DisplayUnit) -> list[str]:
    def _mb(value: float) -> str:
        return _size(value, unit)

    lines = ["## DRAM traffic by operand", "",
             f"Read / written, {unit.name}. Metadata is the storage format's index data.", "",
             _row("run", *(palette.OPERAND_NAMES[o] for o in TRAFFIC_CLASSES)),
             _row("---", *["---:"] * len(TRAFFIC_CLASSES))]
    for run in runs:
        cells = []
        for operand in TRAFFIC_CLASSES:
            row = _find(rows, run.label, "operand", operand)
            cells.append(f"{_mb(row['dram_read_bytes'])} / {_mb(row['dram_write_bytes'])}")
        lines.append(_row(run.label, *cells))
    return lines + [""]


def _over_steps(figures) -> list[str]:
    return ["## Over training steps", "", *_figure_lines("dram_per_step", figures),
            *_figure_lines("stored_set", figures)]


def _accuracy(runs, figures) -> list[str]:
    return ["## Accuracy vs compression", "", *_figure_lines("accuracy_vs_compression",
                                                             figures)]


def _sram_sweep(figures) -> list[str]:
    """Only for reports whose runs sweep the SRAM size (the figure is optional)."""
    if "dram_vs_sram" not in figures:
        return []
    return ["## DRAM traffic vs SRAM size", "", *_figure_lines("dram_vs_sram", figures)]


def _layers(runs, rows, figures, unit: DisplayUnit) -> list[str]:
    def _mb(value: float) -> str:
        return _size(value, unit)

    lines = ["## Per layer", "", *_figure_lines("dram_by_layer", figures),
             f"DRAM bytes read by operand ({unit.name}), written ({unit.name}) and cycles per "
             "layer and phase; `layers.csv` has every counter.", ""]
    for run in runs:
        run_rows = [row for row in rows if row["run"] == run.label]
        operands = [o for o in TRAFFIC_CLASSES
                    if any(row.get(f"dram_read_bytes.{o}", 0) for row in run_rows)]
        lines += [f"### {run.label}", "",
                  _row("layer", "phase", *(f"read: {palette.OPERAND_NAMES[o]}" for o in operands),
                       "written", "cycles"),
                  _row("---", "---", *["---:"] * (len(operands) + 2))]
        for row in run_rows:
            lines.append(_row(f"`{row['layer']}`", row["phase"],
                              *(_mb(row[f"dram_read_bytes.{o}"]) for o in operands),
                              _mb(row["dram_write_bytes"]), f"{row['cycles']:,.0f}"))
        if not run_rows:
            lines.append("(no per-layer rows in this result)")
        lines.append("")
    return lines


def _files(figures) -> list[str]:
    lines = ["## Files", "",
             "- `report.json`: this report as data (runs, ratios, tables).",
             "- `energy_by_component.csv`, `dram_by_phase.csv`, `dram_by_operand.csv`, "
             "`layers.csv`: the tables in base units (bytes, pJ, cycles), one row per run "
             "and category.",
             ]
    for name, entry in figures.items():
        if "skipped" in entry:
            lines.append(f"- {FIGURES[name][0]}: not drawn — {entry['skipped']}.")
        else:
            lines.append(f"- `{entry['png']}`, `{entry['svg']}`: {FIGURES[name][0]}.")
    return lines + [""]


# -- formatting ----------------------------------------------------------------------------

def hardware_summary(description: dict[str, Any]) -> str:
    """'16x16 ws array @ 800 MHz; SRAM 512 KiB unified; DRAM lpddr4-3200 (12.8 GB/s); ...'"""
    if not description:
        return "no description in the result"
    array = description.get("array") or {}
    sram = description.get("sram") or {}
    dram = description.get("dram") or {}
    regen = description.get("regen")
    storage = description.get("storage") or {}
    dtypes = description.get("dtypes") or {}
    parts = [f"{array.get('rows', '?')}x{array.get('cols', '?')} {array.get('dataflow', '?')} "
             f"array @ {_hz(array.get('clock_hz'))}", _sram_text(sram),
             _dram_text(dram, array, dtypes)]
    parts.append(f"regen {regen['lanes']} lanes" if regen else "no regen unit")
    fmt = storage.get("format", "?")
    if storage.get("index_bits"):
        fmt += f" ({storage['index_bits']}-bit indices)"
    parts.append(f"weights stored {fmt}")
    if dtypes:
        parts.append("dtypes " + ", ".join(f"{k} {v}" for k, v in dtypes.items()))
    return "; ".join(parts)


def _sram_text(sram: dict[str, Any]) -> str:
    buffers = sram.get("buffers") or []
    if not buffers and not sram.get("capacity_bytes"):
        return "SRAM ?"
    if sram.get("organization") == "unified" or len(buffers) <= 1:
        size = _binary_size(buffers[0]["capacity_bytes"] if buffers
                            else sram.get("capacity_bytes"))
        text = f"SRAM {size} unified"
    else:
        text = "SRAM " + " + ".join(f"{_binary_size(b['capacity_bytes'])} {b['name']}"
                                    for b in buffers)
    return text + (", double-buffered" if sram.get("double_buffered") else "")


def _dram_text(dram: dict[str, Any], array: dict[str, Any], dtypes: dict[str, Any]) -> str:
    standard = dram.get("standard", "?")
    words = dram.get("bandwidth_words_per_cycle")
    if words is not None:
        text = f"DRAM {standard}, {words:g} words/cycle"
        word_bytes = DTYPE_BYTES.get(canonical_dtype(str(dtypes.get("weights"))))
        if word_bytes and isinstance(array.get("clock_hz"), int | float):
            text += f" ({words * word_bytes * array['clock_hz'] / 1e9:.3g} GB/s)"
        return text
    try:
        bandwidth = (dram["data_rate_transfers_per_s"] * dram["bus_width_bits"] / 8
                     * dram["channels"])
    except (KeyError, TypeError):
        return f"DRAM {standard}"
    return (f"DRAM {standard} x{dram['bus_width_bits']} x {dram['channels']} channel"
            f"{'s' if dram['channels'] != 1 else ''}, {bandwidth / 1e9:.3g} GB/s")


def _hz(value) -> str:
    if not isinstance(value, int | float):
        return "?"
    return f"{value / 1e9:g} GHz" if value >= 1e9 else f"{value / 1e6:g} MHz"


def _binary_size(value) -> str:
    if not isinstance(value, int | float):
        return "?"
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if value >= factor:
            return f"{value / factor:g} {unit}"
    return f"{value:g} B"


def budget_text(run: Run) -> str:
    """'10,664 stored weights (25x)', 'all 266,610 weights', 'target: 50% of filters (2x)'."""
    params = run.trace.get("method_params") or {}
    total = run.trace.get("params_total")
    if run.method == "dense":
        return f"all {total:,} weights" if isinstance(total, int) else "all weights"
    if isinstance(params.get("stored_weights"), int):
        text = f"{params['stored_weights']:,} stored weights"
    elif isinstance(params.get("kept_weights"), int):
        text = f"{params['kept_weights']:,} weights kept after the final prune"
    elif isinstance(params.get("target"), int | float):
        unit = "filters" if run.method == "filter_pruning" else "weights"
        text = f"target: {100 * params['target']:g}% of the {unit} pruned"
    else:
        text = ""
    compression = run.compression
    if compression is None:
        return text or "?"
    return f"{text} ({compression:.3g}x)" if text else f"{compression:.3g}x compression"


def _figure_lines(name: str, figures) -> list[str]:
    title, how_to_read, _ = FIGURES[name]
    entry = figures[name]
    if "skipped" in entry:
        return [f"*Figure \"{title}\" not drawn: {entry['skipped']}.*", ""]
    return [f"![{title}]({entry['png']})", "", f"*{title}.* {how_to_read} "
            f"(SVG: [`{entry['svg']}`]({entry['svg']}))", ""]


def _find(rows, run: str, column: str, key: str) -> dict:
    return next(row for row in rows if row["run"] == run and row[column] == key)


def _row(*cells) -> str:
    return "| " + " | ".join(str(cell).replace("|", "\\|") for cell in cells) + " |"


def _size(value: float, unit: DisplayUnit) -> str:
    return _num(value / unit.factor)


def _num(value: float) -> str:
    """About four significant digits without exponents: 1,090, 85.51, 0.6900, 0."""
    magnitude = abs(value)
    if magnitude == 0:
        return "0"
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 1:
        return f"{value:.{3 - len(str(int(magnitude))) + 1}f}"
    return f"{value:#.4g}"
