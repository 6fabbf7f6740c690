"""Speed of the burst-level DRAM model (accelsim.sim.dram) on one core.

Requests per second of simulate_dram (address decoding, scheduling, timing and counting,
all of it) for sequential, random and mixed request streams on DDR4-3200 and LPDDR4-3200,
against the goal (20 M requests/s) and against DRAMsim3 (about 150 k requests/s on this
kind of 2-core machine, per the shared hardware reference notes). Numba compile (or cache
load) time is measured on a tiny stream first and printed apart.

    python bench/dram_model_speed.py [--requests 4000000] [--repeat 3]
"""

import argparse
import os
import time

import numpy as np

from accelsim.hw import load_hardware
from accelsim.sim.dram import simulate_dram

GOAL_REQUESTS_PER_S = 20e6
DRAMSIM3_REQUESTS_PER_S = 150e3  # hardware.md: DRAMsim3 does 110-160 k requests/s here


def streams(n, burst_bytes, seed=0):
    """name -> (addresses, is_write, arrival, stream), n a multiple of 16; all arrive at 0."""
    rng = np.random.default_rng(seed)
    burst = np.uint64(burst_bytes)
    sequential = np.arange(n, dtype=np.uint64) * burst
    random = rng.integers(0, 1 << 32, n, dtype=np.uint64) // burst * burst
    # Mixed: five tensors (weights, metadata, activations, gradients, optimizer state) in
    # regions 256 MiB apart, each walked sequentially in runs of 16 bursts (tiles), the
    # runs interleaved at random; a third of the activation/gradient runs are writes.
    runs = n // 16
    run_stream = rng.integers(0, 5, runs).astype(np.uint8)
    run_index = np.zeros(runs, dtype=np.uint64)
    for s in range(5):
        chosen = run_stream == s
        run_index[chosen] = np.arange(chosen.sum(), dtype=np.uint64)
    run_write = (run_stream >= 2) & (rng.random(runs) < 1 / 3)
    within = np.tile(np.arange(16, dtype=np.uint64), runs)
    mixed = (np.repeat(run_stream.astype(np.uint64) << np.uint64(28), 16)
             + (np.repeat(run_index, 16) * np.uint64(16) + within) * burst)
    zeros = np.zeros(n, dtype=np.int64)
    no_writes = np.zeros(n, dtype=bool)
    no_stream = np.zeros(n, dtype=np.uint8)
    return {
        "sequential": (sequential, no_writes, zeros, no_stream),
        "random": (random, no_writes, zeros, no_stream),
        "mixed": (mixed, np.repeat(run_write, 16), zeros, np.repeat(run_stream, 16)),
    }


def best_seconds(fn, repeat):
    """Best wall-clock and best CPU (process) time of ``repeat`` runs of fn()."""
    wall = cpu = float("inf")
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    return wall, cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n = args.requests // 16 * 16
    edge = load_hardware("edge-lpddr4")
    drams = {standard: edge.replace({"dram.standard": standard}).dram
             for standard in ("ddr4-3200", "lpddr4-3200")}

    start = time.perf_counter()
    for dram in drams.values():
        simulate_dram(dram, np.arange(64, dtype=np.uint64) * np.uint64(64),
                      np.zeros(64, dtype=bool))
    compile_s = time.perf_counter() - start

    print(f"{n:,} burst requests per stream, best of {args.repeat}, one core "
          f"({os.cpu_count()} CPUs, shared)")
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    print(f"{'standard':12} {'stream':10} {'M req/s':>8} {'x goal':>7} {'x DRAMsim3':>11} "
          f"{'M req/cpu-s':>12} {'hit rate':>9} {'bus busy':>9}")
    for standard, dram in drams.items():
        for name, requests in streams(n, dram.burst_bytes).items():
            stats = simulate_dram(dram, *requests)
            wall, cpu = best_seconds(lambda d=dram, r=requests: simulate_dram(d, *r),
                                     args.repeat)
            rate = n / wall
            print(f"{standard:12} {name:10} {rate / 1e6:8.1f} "
                  f"{rate / GOAL_REQUESTS_PER_S:7.2f} {rate / DRAMSIM3_REQUESTS_PER_S:11.0f} "
                  f"{n / cpu / 1e6:12.1f} {stats.row_hit_rate:9.3f} "
                  f"{stats.bus_utilisation:9.3f}")
    print(f"M req/s and the ratios: wall clock; M req/cpu-s: the process's CPU time, which "
          f"leaves out time other jobs held the core. Goal: {GOAL_REQUESTS_PER_S / 1e6:.0f} "
          f"M requests/s; DRAMsim3: ~{DRAMSIM3_REQUESTS_PER_S / 1e3:.0f} k requests/s.")
    print(f"numba compile or cache load (not in the figures): {compile_s * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
