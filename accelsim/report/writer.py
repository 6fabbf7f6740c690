"""write_report: result files in, report.md + report.json + CSV tables + figures out.

Every input is read and checked before anything is written. The outputs are first written
into a staging folder inside ``out_dir`` and then renamed into place one by one, so an
existing file is only ever replaced by a complete new one (a rename on the same file
system is atomic), and a failure while drawing leaves the previous report untouched.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from accelsim import __version__
from accelsim.errors import ConfigError
from accelsim.report import tables as tabulate
from accelsim.report.figures import FIGURES, FORMATS, OPTIONAL_FIGURES, PER, Data, render
from accelsim.report.markdown import budget_text, hardware_summary, render_report
from accelsim.report.palette import run_styles
from accelsim.report.runs import Run, load_runs

REPORT_FORMAT = "accelsim-report"
REPORT_VERSION = 1
FIGURE_FOLDER = "figures"
TABLES = {  # CSV file -> table
    "energy_by_component.csv": tabulate.energy_by_component,
    "dram_by_phase.csv": tabulate.dram_by_phase,
    "dram_by_operand.csv": tabulate.dram_by_operand,
    "layers.csv": tabulate.layers,
}


def write_report(result_paths: Sequence[str | Path], out_dir: str | Path,
                 per: str = "auto") -> list[Path]:
    """Write the report of the runs in ``result_paths`` into ``out_dir``; the files written.

    ``per``: the energy and DRAM bar figures show each run's totals (``"run"``), its
    totals per training step (``"step"``), or (``"auto"``) per step exactly when the runs
    cover different numbers of training steps, so a shorter run never looks cheaper.

    Raises ConfigError naming the file when an input is missing, not JSON, not an accelsim
    result or of another result version; nothing is written then.
    """
    if per not in ("auto", *PER):
        raise ConfigError(f"--per must be auto, run or step, got {per!r}")
    runs = load_runs(result_paths)
    if per == "auto":
        per = "step" if len({run.totals["training_steps"] for run in runs}) > 1 else "run"
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ConfigError(f"{out}: exists and is not a folder") from None
    except OSError as err:
        raise ConfigError(f"cannot create {out}: {err.strerror}") from None
    try:
        staging = Path(tempfile.mkdtemp(dir=out, prefix=".report-"))
    except OSError as err:
        raise ConfigError(f"cannot write into {out}: {err.strerror}") from None
    try:
        written = _write_all(runs, staging, per)
        _refuse_inputs([out / path for path in written], result_paths)
        return _move_into_place(staging, out, written)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _refuse_inputs(destinations: list[Path], inputs: Sequence[str | Path]) -> None:
    """A report never replaces one of the results it reads."""
    for dest in destinations:
        for source in inputs:
            if dest.exists() and Path(source).exists() and os.path.samefile(dest, source):
                raise ConfigError(f"--out: the report would replace its input {source}; "
                                  f"choose another folder")


def _write_all(runs: list[Run], folder: Path, per: str) -> list[Path]:
    """Every output file under ``folder``; their paths relative to it, report.md first."""
    tables = {name[:-4]: table(runs) for name, table in TABLES.items()}
    ratios = tabulate.ratios(runs)
    energy_unit = tabulate.DisplayUnit.for_runs(runs, "energy_pj")
    byte_unit = tabulate.DisplayUnit.for_runs(runs, "dram_bytes")
    data = Data(runs, tables, run_styles(runs), per)
    (folder / FIGURE_FOLDER).mkdir()
    figures, drawn = {}, []
    for name in FIGURES:
        outcome = render(name, data, folder / FIGURE_FOLDER)
        if isinstance(outcome, str) and name in OPTIONAL_FIGURES:
            continue  # drawn only for runs that call for it (an SRAM sweep)
        if isinstance(outcome, str):
            figures[name] = {"skipped": outcome}
        else:
            relative = [path.relative_to(folder) for path in outcome]
            figures[name] = {fmt: path.as_posix()
                             for fmt, path in zip(FORMATS, relative, strict=True)}
            drawn += relative
    texts = {
        "report.md": render_report(runs, tables, ratios, figures, energy_unit, byte_unit,
                                   per),
        "report.json": json.dumps(_json_safe(_report_data(
            runs, tables, ratios, figures, energy_unit, byte_unit, per)), indent=1) + "\n",
        **{name: tabulate.to_csv(tables[name[:-4]]) for name in TABLES},
    }
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")
    return [Path(name) for name in texts] + drawn


def _move_into_place(staging: Path, out: Path, relative: list[Path]) -> list[Path]:
    """Rename each staged file over its destination; drop figures this report did not draw."""
    final = []
    try:
        (out / FIGURE_FOLDER).mkdir(exist_ok=True)
        for path in relative:
            os.replace(staging / path, out / path)
            final.append(out / path)
        for name in FIGURES:
            for fmt in FORMATS:
                stale = out / FIGURE_FOLDER / f"{name}.{fmt}"
                if stale not in final and stale.exists():
                    stale.unlink()  # a figure of an earlier report that this one skips
    except OSError as err:
        raise ConfigError(f"cannot write the report into {out}: {err}") from None
    return final


def _report_data(runs: list[Run], tables: dict, ratios: list[dict], figures: dict,
                 energy_unit: tabulate.DisplayUnit, byte_unit: tabulate.DisplayUnit,
                 per: str) -> dict[str, Any]:
    return {
        "format": REPORT_FORMAT, "version": REPORT_VERSION, "accelsim": __version__,
        "units": {"bytes": "B", "energy": "pJ", "cycles": "array clock cycles",
                  "shown_as": {"bytes": byte_unit.name, "energy": energy_unit.name},
                  "bar_figures": f"per training {per}"},
        "runs": [_run_data(run, runs) for run in runs],
        "ratios": ratios,
        "tables": tables,
        "figures": {name: {"title": FIGURES[name][0], **entry}
                    for name, entry in figures.items()},
    }


def _run_data(run: Run, runs: list[Run]) -> dict[str, Any]:
    hardware = run.result["hardware"]
    baseline = None if run.method == "dense" else tabulate.dense_baseline(run, runs)
    return {
        "label": run.label, "path": str(run.path), "net": run.net, "method": run.method,
        "method_params": run.trace.get("method_params") or {},
        "optimizer": run.optimizer, "optimizer_params": run.optimizer_params,
        "lr_schedule": run.lr_schedule,
        "budget": budget_text(run), "compression": run.compression,
        "dataset": run.trace.get("dataset"), "batch_size": run.trace.get("batch_size"),
        "params_total": run.trace.get("params_total"),
        "training_steps": run.totals["training_steps"],
        "recorded_steps": len(run.per_step.get("step") or []),
        "final_accuracy": run.final_accuracy,
        "hardware": {"name": run.hardware_name, "source": hardware.get("source"),
                     "fingerprint": hardware.get("fingerprint"),
                     "summary": hardware_summary(hardware.get("description") or {})},
        "baseline": baseline.label if baseline is not None else None,
        "totals": run.totals,
    }


def _json_safe(value: Any) -> Any:
    """NaN and infinities become null (JSON has neither)."""
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
