"""The ``accelsim report`` subcommand: ``accelsim report RESULT.json... --out DIR``."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``report`` on the CLI's subparsers; returns its parser."""
    parser = subparsers.add_parser(
        "report", help="compare simulation results: report.md, tables and figures",
        description=(
            "Read one or more RESULT.json files written by `accelsim simulate` and write a "
            "report into DIR: report.md (what was simulated, each method's ratios against "
            "the dense run on the same net and hardware, energy by component, DRAM traffic "
            "by phase, operand and layer), report.json (the same as data), CSV tables and "
            "figures (PNG and SVG) in DIR/figures. Existing report files in DIR are "
            "replaced; nothing is written when an input is bad."),
        epilog="example: accelsim report dense.json dropback.json --out report/")
    parser.add_argument("results", nargs="+", metavar="RESULT.json",
                        help="result files from accelsim simulate")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="folder to write the report into (created if needed)")
    parser.add_argument("--per", default="auto", choices=["auto", "run", "step"],
                        help="the energy and DRAM bar figures show each run's totals (run), "
                             "its totals per training step (step), or per step only when "
                             "the runs cover different numbers of steps (auto, default); "
                             "each figure says which")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Write the report and print the files written and a one-line summary."""
    from accelsim.report.writer import write_report

    written = write_report(args.results, args.out, per=args.per)
    for path in written:
        print(path)
    figures = sum(1 for path in written if path.suffix == ".png")
    print(f"report of {len(args.results)} result{'s' if len(args.results) != 1 else ''}: "
          f"{written[0]} ({len(written)} files, {figures} figures)")
    return 0
