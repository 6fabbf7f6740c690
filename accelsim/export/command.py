"""The ``accelsim export`` subcommand: ``accelsim export TRACE --hw HW --format F --out FILE``."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from accelsim.errors import ConfigError

EXPORT_FORMATS = ("dramsim3", "ramulator", "chrome")
_CONFIG_NAMES = {"dramsim3": "DRAMsim3 ini", "ramulator": "Ramulator 2 YAML"}


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``export`` on the CLI's subparsers; returns its parser."""
    parser = subparsers.add_parser(
        "export", help="write a replay's DRAM requests (DRAMsim3, Ramulator) or timeline "
                       "(Chrome trace) for other tools",
        description=(
            "Replay the chosen steps of TRACE on HW and write FILE: dramsim3 (one burst "
            "request per line, '0xADDR READ|WRITE CYCLE', cycles of the description's DRAM "
            "clock), ramulator (Ramulator 2 LoadStoreTrace, 'LD 0xADDR' / 'ST 0xADDR') or "
            "chrome (a Chrome trace-event JSON timeline that opens in Perfetto). The "
            "requests are those `accelsim simulate --dram burst` serves; the request "
            "formats need a timed DRAM. FILE is replaced only once it is complete."),
        epilog="example: accelsim export traces/lenet300-dropback25.trace --hw dropback-edge "
               "--format dramsim3 --steps 100:101 --out step100.trace")
    parser.add_argument("trace", metavar="TRACE", help="trace file to replay")
    parser.add_argument("--hw", required=True, metavar="HW",
                        help="hardware description: a .toml file or a preset name")
    parser.add_argument("--format", required=True, metavar="FORMAT",
                        help=f"one of {', '.join(EXPORT_FORMATS)}")
    parser.add_argument("--out", required=True, metavar="FILE", help="file to write")
    parser.add_argument("--steps", metavar="A:B",
                        help="only recorded steps A <= step < B (default: all; a LeNet step "
                             "is ~27,000 requests)")
    parser.add_argument("--pace", action="store_true",
                        help="dramsim3 only: delay requests so that no two share a cycle "
                             "(dramsim3main's trace CPU issues at most one per clock)")
    parser.add_argument("--config-out", metavar="CONFIG",
                        help="dramsim3 and ramulator: also write the description's DRAM "
                             "(timings in its clock cycles, organisation, address mapping; "
                             "IDD currents for DRAMsim3) to CONFIG, as a DRAMsim3 ini or a "
                             "Ramulator 2 YAML reading FILE, so the other simulator serves "
                             "the requests on the DRAM accelsim modelled")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Write the export and print one line saying what was written."""
    from accelsim.files import check_outputs
    from accelsim.hw import load_hardware

    if args.format not in EXPORT_FORMATS:
        raise ConfigError(f"--format {args.format!r}: choose one of {', '.join(EXPORT_FORMATS)}")
    config_out = getattr(args, "config_out", None)
    check_outputs({"--out": args.out, "--config-out": config_out}, [args.trace, args.hw])
    if config_out is not None and Path(config_out).resolve() == Path(args.out).resolve():
        raise ConfigError(f"--config-out {config_out}: the same file as --out")
    hw = load_hardware(args.hw)
    config = None
    if config_out is not None:  # before the replay: a description it cannot describe fails fast
        from accelsim.export.dram_config import config_text

        # Ramulator resolves the trace path from where it runs: the YAML's folder
        trace_path = os.path.relpath(Path(args.out).resolve(), Path(config_out).resolve().parent)
        config = config_text(hw, args.format, trace_path=trace_path)
    if args.format == "chrome":
        if args.pace:
            raise ConfigError("--pace is for --format dramsim3 (a chrome timeline has no "
                              "request cycles to pace)")
        from accelsim.export.chrome import write_chrome_trace

        summary = write_chrome_trace(args.trace, hw, args.steps, args.out)
        print(f"chrome trace: {summary['events']:,} events; {args.out}")
        return 0
    from accelsim.export.requests import write_request_trace

    summary = write_request_trace(args.trace, hw, args.steps, args.out, args.format,
                                  pace=args.pace)
    if config is not None:
        from accelsim.files import atomic_output

        with atomic_output(config_out) as handle:
            handle.write(config)
    steps = summary["steps"]
    span = f"step {steps[0]}" if len(steps) == 1 else f"{len(steps)} steps ({steps[0]}.." \
        f"{steps[-1]})"
    print(f"{args.format}: {summary['requests']:,} requests ({summary['reads']:,} reads, "
          f"{summary['writes']:,} writes) of {span}, last issued at DRAM cycle "
          f"{summary['last_cycle']:,}{_pacing(summary)}; {args.out}"
          + (f"; {_CONFIG_NAMES[args.format]} {config_out}" if config is not None else ""))
    return 0


def _pacing(summary: dict) -> str:
    """What the cycles mean for a one-request-per-cycle driver."""
    if summary["format"] != "dramsim3":
        return ""
    if summary["paced"]:
        return f" (paced: {summary['delayed']:,} requests delayed, one per cycle)"
    if summary["busiest_cycle"] > 1:
        return (f" (up to {summary['busiest_cycle']} requests in one cycle; --pace for a "
                "one-per-cycle driver)")
    return ""
