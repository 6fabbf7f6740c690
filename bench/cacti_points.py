"""accelsim's CACTI-derived SRAM points (leakage, and the itrs-lop reads) against a fresh
CACTI run.

Needs a local CACTI 7 build (HewlettPackard/cacti, built with ``make``; not part of
accelsim, never downloaded by it): ``--cacti DIR`` with ``DIR/cacti`` and ``DIR/cache.cfg``.
For every leakage point of every energy table (and the read points of ``cacti-45nm-lop``)
it writes the configuration the point came from — CACTI's own cache.cfg with: a
scratchpad (``cache type "ram"``), one bank, associativity 1, the point's capacity, a
64-bit port for leakage (32-bit for reads: leakage hardly depends on the port width), the
node and cell type the point's source names, 360 K as cache.cfg has it — runs CACTI and
prints its value beside accelsim's, with the ratio.

    python bench/cacti_points.py --cacti ~/src/cacti
"""

from __future__ import annotations

import argparse
import re
import subprocess
import tempfile
from pathlib import Path

from accelsim.hw.energy import ENERGY_TABLES

_NODE = re.compile(r"(\d+) nm, (itrs-\w+) cells")
_LEAKAGE = re.compile(r"Total leakage power of a bank \(mW\):\s*([\d.eE+-]+)")
_READ = re.compile(r"Total dynamic read energy per access \(nJ\):\s*([\d.eE+-]+)")


def configuration(base: str, capacity: int, node_nm: int, cells: str, width_bits: int) -> str:
    changes = {
        r"-size \(bytes\) .*": f"-size (bytes) {capacity}",
        r"-technology \(u\) .*": f"-technology (u) {node_nm / 1000:.3f}",
        r"-associativity .*": "-associativity 1",
        r"-block size \(bytes\) .*": f"-block size (bytes) {width_bits // 8}",
        r"-output/input bus width .*": f"-output/input bus width {width_bits}",
        r"-cache type .*": '-cache type "ram"',
        r"-UCA bank count .*": "-UCA bank count 1",
        **{rf"-{part} .*": f'-{part} "{cells}"' for part in (
            "Data array cell type -", "Data array peripheral type -",
            "Tag array cell type -", "Tag array peripheral type -")},
    }
    for pattern, line in changes.items():
        base, found = re.subn(rf"(?m)^{pattern}$", line, base, count=1)
        if not found:
            raise SystemExit(f"cache.cfg has no line matching {pattern!r}")
    return base


def run_cacti(cacti: Path, text: str, scratch: Path, pattern: re.Pattern) -> float:
    config = scratch / "point.cfg"
    config.write_text(text)
    out = subprocess.run([str(cacti / "cacti"), "-infile", str(config)], cwd=cacti,
                         capture_output=True, text=True, check=False).stdout
    found = pattern.search(out)
    if not found:
        raise SystemExit(f"CACTI printed no {pattern.pattern!r}:\n{out[-2000:]}")
    return float(found.group(1))


def points():
    """(table, what, capacity, node, cells, width, accelsim's value, unit, CACTI pattern,
    CACTI unit -> accelsim unit factor)."""
    for table in ENERGY_TABLES.values():
        for point in table.sram_leakage:
            node, cells = _NODE.search(point.power.source).groups()
            yield (table.name, "leakage", point.capacity_bytes, int(node), cells, 64,
                   point.power.value, "mW", _LEAKAGE, 1.0)
        for point in table.sram_read:
            found = _NODE.search(point.read.source)
            if found and "CACTI 7.0" in point.read.source:
                yield (table.name, "read", point.capacity_bytes, int(found.group(1)),
                       found.group(2), point.width_bits, point.read.value, "pJ", _READ, 1e3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cacti", type=Path, required=True, help="a built CACTI 7 checkout")
    args = parser.parse_args()
    base = (args.cacti / "cache.cfg").read_text()
    seen: dict[tuple, float] = {}
    print(f"{'table':<16} {'what':<8} {'bank':>8} {'accelsim':>12} {'CACTI':>12} {'ratio':>7}")
    with tempfile.TemporaryDirectory() as scratch:
        for table, what, capacity, node, cells, width, ours, unit, pattern, scale in points():
            key = (what, capacity, node, cells, width)
            if key not in seen:
                text = configuration(base, capacity, node, cells, width)
                seen[key] = run_cacti(args.cacti, text, Path(scratch), pattern) * scale
            theirs = seen[key]
            print(f"{table:<16} {what:<8} {capacity // 1024:>6}KB {ours:>9.4g} {unit:<2} "
                  f"{theirs:>9.4g} {unit:<2} {ours / theirs:>7.4f}")


if __name__ == "__main__":
    main()
