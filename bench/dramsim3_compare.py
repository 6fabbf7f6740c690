"""accelsim's burst-level DRAM model against DRAMsim3 on the same requests, per standard.

Needs a local DRAMsim3 checkout built as its README says (not part of accelsim, never
downloaded by it): ``--dramsim3 DIR`` with ``DIR/build/dramsim3main`` and ``DIR/configs``.

For each DRAM (edge-lpddr4's LPDDR4-3200, datacenter-hbm2's HBM2 with 64 KiB of SRAM —
as it is, its 32 MiB keep the sample traces on chip, 196 reads on channel 0 — dropback-edge
with DDR4-3200 and as it is: LPDDR4-3200 with CSR weights) and each sample trace, step 100 is
exported (``accelsim export --format dramsim3``) and both simulators serve exactly the
requests of that file, twice: with its arrival cycles paced one per cycle (the timeline;
dramsim3main's trace driver issues at
most one request per clock) and all available at cycle 0 (back to back). DRAMsim3's
finishing cycle is found by bisection on ``-c``. Two DRAMsim3 configurations:

- matched: the ini ``accelsim export --config-out`` writes for the description (its
  timings in cycles, organisation, address mapping, IDD currents; docs/export.md);
- stock: DRAMsim3's own file for the family (LPDDR4_8Gb_x16_2400.ini, HBM2_8Gb_x128.ini,
  DDR4_8Gb_x8_3200.ini) with only the address mapping, one rank and the unified queue
  matched, against accelsim on the standard taken from that file (lpddr4-2400, hbm2,
  ddr4-3200).

HBM2: dramsim3main's one-request-per-cycle driver cannot feed 8 channels (up to 4 bursts
per cycle), so only channel 0's requests are served (both simulators, channel 0's
statistics; energy per channel).

    python bench/dramsim3_compare.py --dramsim3 ~/src/DRAMsim3
"""

from __future__ import annotations

import argparse
import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from accelsim.export.dram_config import dramsim3_ini
from accelsim.export.requests import write_request_trace
from accelsim.hw import load_hardware
from accelsim.sim.dram import decode_addresses, simulate_dram

ROOT = Path(__file__).resolve().parents[1]
TRACES = ("lenet300-dense", "lenet300-dropback25")
# label, preset, changes, stock ini, the standard taken from that stock file
DRAMS = (
    ("LPDDR4-3200", "edge-lpddr4", {}, "LPDDR4_8Gb_x16_2400.ini", "lpddr4-2400"),
    ("HBM2 ch 0", "datacenter-hbm2", {"sram.capacity": "64 KiB"}, "HBM2_8Gb_x128.ini",
     "hbm2"),
    ("DDR4-3200 x64", "dropback-edge", {"dram.standard": "ddr4-3200"},
     "DDR4_8Gb_x8_3200.ini", "ddr4-3200"),
    # dropback-edge stores weights in CSR: the DropBack trace moves less than dense there
    ("LPDDR4-3200 CSR", "dropback-edge", {}, "LPDDR4_8Gb_x16_2400.ini", "lpddr4-2400"),
)


def stock_ini(dramsim3: Path, name: str, mapping: str, channel_size: int) -> str:
    text = (dramsim3 / "configs" / name).read_text()
    text = re.sub(r"(?m)^address_mapping = .*$", f"address_mapping = {mapping}", text)
    text = re.sub(r"(?m)^channel_size = .*$", f"channel_size = {channel_size}", text)
    text = re.sub(r"(?m)^unified_queue = .*\n", "", text)
    return re.sub(r"(?m)^(trans_queue_size = .*)$", r"\1\nunified_queue = True", text)


def run(binary: Path, ini: Path, requests: Path, work: Path, cycles: int) -> dict[str, float]:
    subprocess.run([str(binary), str(ini), "-c", str(cycles), "-t", str(requests), "-o",
                    str(work)], check=True, capture_output=True)
    text = (work / "dramsim3.txt").read_text().split("## Statistics of Channel 1")[0]
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


def requests_of(hw, trace: str, work: Path, name: str):
    """Step 100's requests (channel 0's on a multi-channel DRAM), paced one per cycle."""
    exported = work / f"{name}.all"
    write_request_trace(trace, hw, "100:101", exported, "dramsim3")
    fields = np.array([line.split() for line in exported.read_text().splitlines()])
    addresses = np.array([int(a, 16) for a in fields[:, 0]], dtype=np.uint64)
    is_write = fields[:, 1] == "WRITE"
    arrival = fields[:, 2].astype(np.int64)
    keep = decode_addresses(hw.dram, addresses)["channel"] == 0
    addresses, is_write, arrival = addresses[keep], is_write[keep], arrival[keep]
    paced = arrival.copy()
    for i in range(1, len(paced)):  # one request per cycle, order kept
        paced[i] = max(paced[i], paced[i - 1] + 1)
    timeline, b2b = work / f"{name}.dramsim3", work / f"{name}-b2b.dramsim3"
    ops = np.where(is_write, "WRITE", "READ")
    timeline.write_text("".join(f"0x{a:x} {o} {c}\n" for a, o, c in
                                zip(addresses, ops, paced, strict=True)))
    b2b.write_text("".join(f"0x{a:x} {o} 0\n" for a, o in zip(addresses, ops, strict=True)))
    return addresses, is_write, paced, timeline, b2b


def per_channel_energy(stats, dram) -> float:
    """accelsim's energy of one channel's requests: standby of that channel only."""
    parts = stats.energy_pj
    standby = (parts["background"] + parts["refresh"]) / dram.channels
    return parts["act"] + parts["pre"] + parts["read"] + parts["write"] + standby


def compare(binary, ini, hw, requests, work, label, trace_name):
    addresses, is_write, paced, timeline, b2b = requests
    reads, writes = int((~is_write).sum()), int(is_write.sum())
    ours = simulate_dram(hw.dram, addresses, is_write, paced, None)
    ours_b2b = simulate_dram(hw.dram, addresses, is_write, None, None)
    theirs_cycles, stats = finish(binary, ini, timeline, work, reads, writes)
    back, back_stats = finish(binary, ini, b2b, work, reads, writes)
    tck_ns = hw.dram.tck_s * 1e9
    hits = stats["num_read_row_hits"] + stats["num_write_row_hits"]
    rows = [
        ("row-hit rate (%)", 100 * ours.row_hit_rate, 100 * hits / (reads + writes)),
        ("ACTs", float(ours.acts.sum()), stats["num_act_cmds"]),
        ("refreshes", float(ours.refreshes.sum()), stats["num_ref_cmds"]),
        ("timeline: last data (cyc)", float(ours.cycles), theirs_cycles),
        ("back to back (cycles)", float(ours_b2b.cycles), back),
        ("b2b row-hit rate (%)", 100 * ours_b2b.row_hit_rate, 100 * (
            back_stats["num_read_row_hits"] + back_stats["num_write_row_hits"])
         / (reads + writes)),
        ("energy (uJ)", per_channel_energy(ours, hw.dram) / 1e6,
         stats["total_energy"] * tck_ns / 1e6),
    ]
    for quantity, mine, other in rows:
        print(f"{label:<36} {trace_name:<20} {quantity:<26} {mine:>12,.1f} {other:>12,.1f} "
              f"{mine / other if other else float('nan'):>7.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dramsim3", type=Path, required=True,
                        help="a DRAMsim3 checkout with build/dramsim3main")
    parser.add_argument("--only", help="only the DRAMs whose label contains this")
    args = parser.parse_args()
    binary = args.dramsim3 / "build" / "dramsim3main"
    print(f"{'DRAM (timings)':<36} {'trace':<20} {'quantity':<26} {'accelsim':>12} "
          f"{'DRAMsim3':>12} {'ratio':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for label, preset, changes, stock, stock_standard in DRAMS:
            if args.only and args.only not in label:
                continue
            hw = load_hardware(preset).replace(changes) if changes else load_hardware(preset)
            stock_hw = hw.replace({"dram.standard": stock_standard,
                                   "dram.address_mapping": list(hw.dram.address_mapping)})
            matched = work / "matched.ini"
            matched.write_text(dramsim3_ini(hw))
            ini_text = dramsim3_ini(stock_hw)
            mapping = re.search(r"(?m)^address_mapping = (.*)$", ini_text).group(1)
            size = int(re.search(r"(?m)^channel_size = (.*)$", ini_text).group(1))
            stock_path = work / "stock.ini"
            stock_path.write_text(stock_ini(args.dramsim3, stock, mapping, size))
            for name in TRACES:
                trace = str(ROOT / "traces" / f"{name}.trace")
                requests = requests_of(hw, trace, work, name)
                compare(binary, matched, hw, requests, work, f"{label} matched", name)
                compare(binary, stock_path, stock_hw, requests, work,
                        f"{label} stock ({stock_standard})", name)


if __name__ == "__main__":
    main()
