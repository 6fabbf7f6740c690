"""``accelsim sweep``: registered on the main parser with ``add_parser(subparsers)``."""

from __future__ import annotations

import argparse

DESCRIPTION = """\
Simulate every point of SPEC.toml -- traces x hardware x (grid product and/or listed
override sets) x fidelities -- and write one row per point to DIR/results.csv and
DIR/results.parquet, with the energy-vs-cycles Pareto figure DIR/pareto.png/.svg.
The whole spec is checked before any point runs. Each finished point is saved in
DIR/points/<key>.json; a rerun (after an interrupt, or with a grown spec) reuses those
files and computes only the missing points. The spec format is in docs/sweeps.md."""

EPILOG = """\
examples:
  accelsim sweep docs/examples/sweep-sram.toml --out out/sram
  accelsim sweep spec.toml --workers 8 --out out/big
  accelsim sweep spec.toml --executor dask --out out/dask             (LocalCluster)
  accelsim sweep spec.toml --scheduler tcp://10.0.0.5:8786 --out out/cluster"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``sweep`` on the ``accelsim`` subcommands; its ``run(args)`` returns 0."""
    parser = subparsers.add_parser(
        "sweep", help="simulate a grid of traces x hardware settings; table + Pareto figure",
        description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("spec", metavar="SPEC.toml", help="the sweep spec (docs/sweeps.md)")
    parser.add_argument("--executor", choices=("local", "dask"), default=None,
                        help="local: a process pool on this machine (default); dask: a "
                             "Dask cluster (--scheduler ADDR, else a LocalCluster started "
                             "and stopped here)")
    parser.add_argument("--scheduler", metavar="ADDR",
                        help="address of a running Dask scheduler, e.g. "
                             "tcp://10.0.0.5:8786 (implies --executor dask); its workers "
                             "must import accelsim and see the traces at the same paths")
    parser.add_argument("--workers", type=_positive_int, metavar="N",
                        help="processes (local) or LocalCluster workers (dask), one "
                             "thread each (default: one per available core)")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="output folder (created; points/ in it is the resume state)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(run=_run, sweep_parser=parser)
    return parser


def _run(args: argparse.Namespace) -> int:
    from accelsim.explore.sweep import run_sweep

    executor = args.executor or ("dask" if args.scheduler else "local")
    if executor == "local" and args.scheduler:
        args.sweep_parser.error("--scheduler needs --executor dask")
    if args.scheduler and args.workers is not None:
        args.sweep_parser.error("--workers sizes local processes or a LocalCluster; "
                                "a --scheduler cluster has its own workers")
    frame = run_sweep(args.spec, args.out, executor=executor, scheduler=args.scheduler,
                      workers=args.workers, progress=not args.no_progress)
    print(summary_line(frame.attrs["sweep"]))
    return 0


def summary_line(sweep: dict) -> str:
    """One line: points computed and reused, where they ran, the files written."""
    where = f" on {sweep['executor']}" if sweep["computed"] else ""
    return (f"sweep {sweep['spec']}: {sweep['points']} points ({sweep['computed']} "
            f"computed, {sweep['reused']} reused){where} in {sweep['elapsed_s']:.1f} s; "
            f"wrote {', '.join(sweep['outputs'])}")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value
