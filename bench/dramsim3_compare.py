"""accelsim's burst-level DRAM model against DRAMsim3 on the same requests (matched DDR4-3200).

Needs a local DRAMsim3 checkout built as its README says (not part of accelsim, never
downloaded by it): ``--dramsim3 DIR`` with ``DIR/build/dramsim3main`` and
``DIR/configs/DDR4_8Gb_x8_3200.ini`` (the source of accelsim's ``ddr4-3200`` timings).
The ini is matched to the description: one rank (channel_size 8192), accelsim's address
mapping (row:rank:bank:column:channel -> ``rorababgcoch``, bank-group bits lowest in the
bank as accelsim's model takes them), and ``unified_queue = True`` (the split-queue
controller stalls for good on these streams: see docs/validation.md).

For each sample trace (step 100 on dropback-edge with ddr4-3200), it exports the requests
(``--pace``: one per cycle, as dramsim3main issues them), runs DRAMsim3 to completion twice
— with the exported arrival cycles (the timeline) and with every request available at
cycle 0 (back to back) — finding the finishing cycle by bisection on ``-c``, and prints
accelsim's numbers beside DRAMsim3's with their ratios.

    python bench/dramsim3_compare.py --dramsim3 ~/src/DRAMsim3
"""

from __future__ import annotations

import argparse
import re
import subprocess
import tempfile
from pathlib import Path

from accelsim.export.requests import write_request_trace
from accelsim.hw import load_hardware
from accelsim.sim import simulate

ROOT = Path(__file__).resolve().parents[1]
TRACES = ("lenet300-dense", "lenet300-dropback25")


def matched_ini(dramsim3: Path, out: Path) -> Path:
    text = (dramsim3 / "configs" / "DDR4_8Gb_x8_3200.ini").read_text()
    text = re.sub(r"(?m)^address_mapping = .*$", "address_mapping = rorababgcoch", text)
    text = re.sub(r"(?m)^channel_size = .*$", "channel_size = 8192", text)
    text = re.sub(r"(?m)^(trans_queue_size = .*)$", r"\1\nunified_queue = True", text)
    path = out / "ddr4-3200-matched.ini"
    path.write_text(text)
    return path


def run(binary: Path, ini: Path, requests: Path, work: Path, cycles: int) -> dict[str, float]:
    subprocess.run([str(binary), str(ini), "-c", str(cycles), "-t", str(requests), "-o",
                    str(work)], check=True, capture_output=True)
    text = (work / "dramsim3.txt").read_text()
    return {key: float(value) for key, value in
            re.findall(r"(?m)^(\w+)\s+=\s+([-\d.e+]+)", text)}


def finish(binary: Path, ini: Path, requests: Path, work: Path, reads: int, writes: int):
    """The first -c at which every request is done, and DRAMsim3's stats there."""
    def complete(c):
        stats = run(binary, ini, requests, work, c)
        return stats["num_reads_done"] >= reads and stats["num_writes_done"] >= writes

    low, high = 1, 1 << 23
    while low < high:
        middle = (low + high) // 2
        if complete(middle):
            high = middle
        else:
            low = middle + 1
    return low, run(binary, ini, requests, work, low)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dramsim3", type=Path, required=True,
                        help="a DRAMsim3 checkout with build/dramsim3main")
    args = parser.parse_args()
    binary = args.dramsim3 / "build" / "dramsim3main"
    hw = load_hardware("dropback-edge").replace({"dram.standard": "ddr4-3200"})
    tck_ns = hw.dram.tck_s * 1e9
    print("step 100 on dropback-edge with ddr4-3200; DRAMsim3 DDR4_8Gb_x8_3200.ini matched")
    print(f"{'trace':<22} {'quantity':<26} {'accelsim':>12} {'DRAMsim3':>12} {'ratio':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ini = matched_ini(args.dramsim3, work)
        for name in TRACES:
            trace = str(ROOT / "traces" / f"{name}.trace")
            ours = simulate(trace, hw, steps="100:101", dram_model="burst").dram
            exported = work / f"{name}.dramsim3"
            write_request_trace(trace, hw, "100:101", exported, "dramsim3", pace=True)
            at_zero = work / f"{name}-b2b.dramsim3"
            at_zero.write_text("".join(" ".join(line.split()[:2]) + " 0\n"
                                       for line in exported.read_text().splitlines()))
            totals = ours["totals"]
            timeline, stats = finish(binary, ini, exported, work, totals["reads"],
                                     totals["writes"])
            back, back_stats = finish(binary, ini, at_zero, work, totals["reads"],
                                      totals["writes"])
            hits = stats["num_read_row_hits"] + stats["num_write_row_hits"]
            rows = [
                ("row-hit rate (%)", 100 * totals["row_hit_rate"],
                 100 * hits / (totals["reads"] + totals["writes"])),
                ("ACTs", totals["acts"], stats["num_act_cmds"]),
                ("refreshes", totals["refreshes"], stats["num_ref_cmds"]),
                ("timeline: last data (cyc)", totals["cycles"], timeline),
                ("back to back (cycles)", ours["back_to_back"]["cycles"], back),
                ("energy (uJ)", totals["total_energy_pj"] / 1e6,
                 stats["total_energy"] * tck_ns / 1e6),
            ]
            for label, mine, theirs in rows:
                print(f"{name:<22} {label:<26} {mine:>12,.1f} {theirs:>12,.1f} "
                      f"{mine / theirs if theirs else float('nan'):>7.3f}")


if __name__ == "__main__":
    main()
