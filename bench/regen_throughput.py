"""accelsim.regen throughput on one core, beside numpy's own normal generator.

Prints values per second for: regen over a contiguous index range (what initialisation
and a regeneration unit sweeping a tile do), regen at scattered indices (what resetting
untracked weights does), and numpy's Generator.standard_normal (ziggurat, float32), with
the ratio regen/numpy. Numba compile (or cache load) time is printed apart.

    python bench/regen_throughput.py [--count 10000000] [--repeat 5]
"""

import argparse
import time

import numpy as np

from accelsim import regen


def best_rate(fn, count, repeat):
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return count / best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    n = args.count

    start = time.perf_counter()
    regen.normal_values(0, 0, 1.0, 10)
    regen.normal_at(0, 0, 1.0, np.arange(10))
    compile_s = time.perf_counter() - start

    indices = np.random.default_rng(0).permutation(n)
    rng = np.random.default_rng(0)
    rates = {
        "regen range": best_rate(lambda: regen.normal_values(1, 2, 0.05, n), n, args.repeat),
        "regen scattered": best_rate(lambda: regen.normal_at(1, 2, 0.05, indices), n,
                                     args.repeat),
        "numpy standard_normal": best_rate(
            lambda: rng.standard_normal(n, dtype=np.float32), n, args.repeat),
    }
    print(f"{n:,} float32 values, best of {args.repeat}, one core")
    for name, rate in rates.items():
        print(f"  {name:24} {rate / 1e6:8.1f} M values/s")
    peer = rates["numpy standard_normal"]
    print(f"  ratio regen range / numpy     = {rates['regen range'] / peer:.2f}")
    print(f"  ratio regen scattered / numpy = {rates['regen scattered'] / peer:.2f}")
    print(f"  numba compile or cache load (not in the figures): {compile_s * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
