"""accelsim vs SCALE-Sim 3.0.0 run time on one conv layer (goal: >= 1000x faster, warm).

The layer is ``conv_58x58_c64_k64`` of ``tests/data/scalesim/ws/topology.csv`` (58x58x64
input, 64 3x3 filters, stride 1) on the ``scalesim-32x32-ws`` preset, forward pass only.
Prints: import time and the first ``simulate()`` call (numba cache load or compile, preset
parsing) apart; the steady-state time per simulation (median over ``--repeat`` runs after
``--warmup``, ``replay_records`` with prebuilt header and params alternating with
``simulate()`` end to end); a fresh process doing import + one simulation, with numba's
cache and with an empty cache (compiling); the ratios to SCALE-Sim's wall time for the same
layer (``tests/data/scalesim/timings.json``); and the cycle counts both tools report, to
show that they model the same thing.

    python bench/scalesim_speed.py [--repeat 200] [--warmup 5] [--fresh 3]
                                   [--fidelity fast]
"""

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOLDENS = Path(__file__).resolve().parent.parent / "tests" / "data" / "scalesim"
LAYER = "conv_58x58_c64_k64"
PRESET = "scalesim-32x32-ws"
FRESH_PROCESS = ("import sys; from accelsim.sim import simulate; simulate(None, sys.argv[1], "
                 "topology=sys.argv[2], phases=['fwd'], fidelity=sys.argv[3])")


def write_one_layer_topology(directory: Path) -> Path:
    """The header and the LAYER row of the ws golden topology, as their own CSV."""
    lines = (GOLDENS / "ws" / "topology.csv").read_text().splitlines()
    row = next(line for line in lines[1:] if line.split(",")[0].strip() == LAYER)
    path = directory / f"{LAYER}.csv"
    path.write_text(f"{lines[0]}\n{row}\n")
    return path


def scalesim_cycles() -> dict[str, int]:
    """SCALE-Sim's COMPUTE_REPORT numbers for LAYER (its LayerID = row in topology.csv)."""
    names = [line.split(",")[0].strip()
             for line in (GOLDENS / "ws" / "topology.csv").read_text().splitlines()[1:]]
    layer_id = names.index(LAYER)
    with open(GOLDENS / "ws" / "COMPUTE_REPORT.csv") as report:
        rows = list(csv.reader(report, skipinitialspace=True))
    row = next(r for r in rows[1:] if int(r[0]) == layer_id)
    total_with_prefetch, total, stall = (int(v) for v in row[1:4])
    return {"total_with_prefetch": total_with_prefetch, "total": total, "stall": stall,
            "compute": total - stall}


def fresh_process(topology: Path, fidelity: str, numba_cache: Path | None = None) -> float:
    """Wall seconds of a new interpreter that imports accelsim and simulates once."""
    env = dict(os.environ)
    if numba_cache is not None:
        env["NUMBA_CACHE_DIR"] = str(numba_cache)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", FRESH_PROCESS, PRESET, str(topology), fidelity],
                   check=True, env=env)
    return time.perf_counter() - start


def kernel_cache_use(*modules) -> tuple[int, int]:
    """(loaded from numba's cache, compiled) signatures over the modules' njit kernels."""
    kernels = [obj for module in modules for obj in vars(module).values()
               if hasattr(obj, "py_func") and hasattr(obj, "stats")]
    return (sum(sum(k.stats.cache_hits.values()) for k in kernels),
            sum(sum(k.stats.cache_misses.values()) for k in kernels))


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--fidelity", default="fast", choices=("fast", "event"))
    parser.add_argument("--fresh", type=int, default=3,
                        help="fresh-process runs, with numba's cache and compiling (median)")
    args = parser.parse_args()

    start = time.perf_counter()
    from accelsim.hw import load_hardware
    from accelsim.sim import gemm_cost, replay, simulate  # gemm_cost, replay: numba
    from accelsim.sim.hardware import sim_params
    from accelsim.sim.replay import replay_records
    from accelsim.sim.topology import dense_step, read_topology
    import_s = time.perf_counter() - start

    with tempfile.TemporaryDirectory() as tmp:
        topology = write_one_layer_topology(Path(tmp))

        def end_to_end():
            return simulate(None, PRESET, topology=str(topology), phases=["fwd"],
                            fidelity=args.fidelity)

        first_s, result = timed(end_to_end)
        loaded, compiled = kernel_cache_use(gemm_cost, replay)

        header = read_topology(topology)
        record = dense_step(header)
        params = sim_params(load_hardware(PRESET))

        def replay_only():
            return replay_records(header, [record], params, ["fwd"], fidelity=args.fidelity)

        for _ in range(args.warmup):
            replay_only()
            end_to_end()
        # Alternate the two so that a load change on the machine hits both alike.
        replay_times, simulate_times = [], []
        for _ in range(args.repeat):
            replay_times.append(timed(replay_only)[0])
            simulate_times.append(timed(end_to_end)[0])
        fresh = {"cache": [], "compile": []}
        for run in range(args.fresh):
            fresh["cache"].append(fresh_process(topology, args.fidelity))
            # An empty numba cache directory: the kernels are compiled from scratch.
            fresh["compile"].append(fresh_process(topology, args.fidelity,
                                                  Path(tmp) / f"numba-{run}"))

    assert replay_only().totals == result.totals
    timings = json.loads((GOLDENS / "timings.json").read_text())
    peer_wall_s = timings["standalone"]["wall_s"]
    peer_simulate_s = timings["runs"]["ws"]["layers"][LAYER]["simulate_s"]
    replay_s = statistics.median(replay_times)
    simulate_s = statistics.median(simulate_times)
    ours = result.totals
    theirs = scalesim_cycles()

    print(f"{LAYER} (58x58x64 -> 64, 3x3, stride 1) on {PRESET}, fwd, {args.fidelity} "
          "fidelity; "
          f"median of {args.repeat} after {args.warmup} warm-up")
    print(f"  imports (accelsim.sim, numba)            {import_s * 1e3:9.1f} ms")
    print(f"  first simulate() (numba kernels: {loaded} loaded from cache, {compiled} compiled)")
    print(f"                                           {first_s * 1e3:9.1f} ms")
    print(f"  replay_records (prebuilt header/params)  {replay_s * 1e3:9.3f} ms "
          f"(min {min(replay_times) * 1e3:.3f})")
    print(f"  simulate() end to end                    {simulate_s * 1e3:9.3f} ms "
          f"(min {min(simulate_times) * 1e3:.3f})")
    fresh_s = statistics.median(fresh["cache"])
    print(f"  fresh process (python start, imports, one simulate()), median of {args.fresh}:")
    print(f"    numba cache present {fresh_s:6.2f} s   numba compiling "
          f"{statistics.median(fresh['compile']):6.2f} s")
    print(f"SCALE-Sim 3.0.0, same layer (timings.json, {timings['date']}): stand-alone process "
          f"{peer_wall_s:.1f} s wall, of which simulate() {peer_simulate_s:.1f} s")
    print(f"  ratio SCALE-Sim wall / accelsim replay_records = {peer_wall_s / replay_s:10,.0f}x"
          "  (goal >= 1000x)")
    print(f"  ratio SCALE-Sim wall / accelsim simulate()     = {peer_wall_s / simulate_s:10,.0f}x"
          "  (goal >= 1000x)")
    print(f"  ratio SCALE-Sim simulate() / accelsim simulate() = "
          f"{peer_simulate_s / simulate_s:8,.0f}x  (SCALE-Sim without start-up and trace CSVs)")
    print(f"  ratio process vs process (fresh, cached)       = {peer_wall_s / fresh_s:10,.1f}x")
    print("cycles (same layer, same array):")
    print(f"  accelsim  compute_cycles {ours['compute_cycles']:>10,.0f}   "
          f"cycles (with DRAM stalls) {ours['cycles']:>12,.0f}")
    print(f"  SCALE-Sim Total - Stall  {theirs['compute']:>10,}   "
          f"Total {theirs['total']:,} (stall {theirs['stall']:,}; "
          f"{theirs['total_with_prefetch']:,} with prefetch)")
    match = "equal" if ours["compute_cycles"] == theirs["compute"] else "DIFFERENT"
    print(f"  compute cycles {match}; total cycles accelsim/SCALE-Sim = "
          f"{ours['cycles'] / theirs['total']:.3f}")


if __name__ == "__main__":
    main()
