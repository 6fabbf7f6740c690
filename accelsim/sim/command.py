"""The ``accelsim reprice`` subcommand: ``accelsim reprice RESULT.json --hw HW --out NEW.json``."""

from __future__ import annotations

import argparse
import os

from accelsim.errors import ConfigError


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
    from accelsim.files import write_text_atomic
    from accelsim.hw import load_hardware
    from accelsim.sim.pricing import reprice
    from accelsim.sim.results import load_result

    if os.path.exists(args.out) and os.path.samefile(args.out, args.result):
        raise ConfigError(f"--out {args.out}: is the input result; write the re-priced one "
                          "elsewhere")
    result = load_result(args.result)
    hw = load_hardware(args.hw)
    repriced = reprice(result, hw, source=args.result)
    write_text_atomic(args.out, repriced.to_json(rows=repriced.rows is not None))
    before, after = result.totals["energy_pj"], repriced.totals["energy_pj"]
    changed = repriced.options["repriced"]["changed"]
    print(f"re-priced {args.result} for {hw.name}: energy {before / 1e6:.4g} uJ -> "
          f"{after / 1e6:.4g} uJ ({len(changed)} price(s) changed); {args.out}")
    return 0
