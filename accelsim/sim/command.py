"""The ``accelsim reprice`` subcommand: ``accelsim reprice RESULT.json --hw HW --out NEW.json``."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``reprice`` on the CLI's subparsers; returns its parser."""
    parser = subparsers.add_parser(
        "reprice", help="re-price a result's counts for other energy prices (no replay)",
        description=(
            "Read RESULT.json (written by accelsim simulate) and price its counts — MACs, "
            "SRAM and DRAM bytes, regenerated values, cycles — with the energies of HW, "
            "without replaying the trace. HW must describe the same hardware but for "
            "prices (MAC, SRAM, DRAM and regeneration energies, leakage, the energy "
            "table); any other difference (array, SRAM size, DRAM timing, storage, "
            "dtypes, ...) is refused with one line: simulate again for those."),
        epilog="example: accelsim reprice dropback.json --hw my-dram-energy.toml "
               "--out dropback-repriced.json")
    parser.add_argument("result", metavar="RESULT.json", help="result file to re-price")
    parser.add_argument("--hw", required=True, metavar="HW",
                        help="hardware description: a .toml file or a preset name")
    parser.add_argument("--out", required=True, metavar="NEW.json", help="result file to write")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from accelsim.files import check_outputs, write_text_atomic
    from accelsim.hw import load_hardware
    from accelsim.hw.units import readable
    from accelsim.sim.pricing import reprice
    from accelsim.sim.results import load_result

    check_outputs({"--out": args.out}, [args.result, args.hw])  # folder exists, no input
    result = load_result(args.result)
    hw = load_hardware(args.hw)
    repriced = reprice(result, hw, source=args.result)
    write_text_atomic(args.out, repriced.to_json(rows=repriced.rows is not None))
    before, after = result.totals["energy_pj"], repriced.totals["energy_pj"]
    changed = repriced.options["repriced"]["changed"]
    print(f"re-priced {args.result} for {hw.name}: energy {readable(before, 'energy')} -> "
          f"{readable(after, 'energy')} ({len(changed)} price(s) changed); {args.out}")
    return 0
