"""Replay time of one whole ResNet-18 training step (all layers, all four phases), in ms.

Records ONE optimizer step of ResNet-18 (CIFAR stem, 3x32x32, 10 classes, batch 128, SGD
with momentum, dense) with TraceRecorder, once, to get a real trace; then simulates every
layer in fwd, bwd_data, bwd_weight and update: dense on ``edge-lpddr4`` and on
``datacenter-hbm2``, and a DropBack-style step on ``dropback-edge`` (a random stored mask
of ``--budget`` weights chosen over the whole network, written as a second trace). For
each it prints the first call (numba cache load or compile, preset parsing) apart, the
median ms per step after warm-up of ``replay_records`` (prebuilt header, record, params)
and of ``simulate()`` end to end (trace read included), the two alternating; the headline
numbers (cycles, DRAM MB, energy) and the dense/DropBack weight-traffic ratio. The limit
replay is held against: the CPU time of the training step it describes.

    python bench/resnet18_step.py [--repeat 20] [--warmup 2] [--batch 128]
                                  [--budget 1000000] [--train-steps 3] [--fidelity fast]
"""

import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _steps import timed_step  # noqa: E402  (bench/ is on sys.path)

from accelsim.hw import load_hardware
from accelsim.sim import simulate
from accelsim.sim.hardware import sim_params
from accelsim.sim.replay import replay_records
from accelsim.sim.topology import dense_step
from accelsim.trace import StepRecord, TraceHeader, TraceWriter, open_trace
from accelsim.training.nets import build_net
from accelsim.training.recorder import TraceRecorder


def record_dense_step(path: Path, batch_size: int, train_steps: int) -> tuple[float, list]:
    """Write a one-step dense ResNet-18 trace; returns its time and later steps' times."""
    model = build_net("resnet-18", in_shape=(3, 32, 32), num_classes=10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    gen = torch.Generator().manual_seed(0)
    batch = (torch.randn(batch_size, 3, 32, 32, generator=gen),
             torch.randint(0, 10, (batch_size,), generator=gen))
    with TraceRecorder(model, optimizer, str(path), net="resnet-18",
                       dataset="random-cifar-shape"):
        record_s = timed_step(model, optimizer, batch)
    return record_s, [timed_step(model, optimizer, batch) for _ in range(train_steps)]


def dropback_step(header: TraceHeader, budget: int, seed: int = 0) -> StepRecord:
    """A step whose stored set is ``budget`` weights drawn uniformly over all tensors."""
    total = header.params_total
    stored = np.zeros(total, dtype=bool)
    stored[np.random.default_rng(seed).choice(total, size=budget, replace=False)] = True
    masks, offset = {}, 0
    for info in header.tensors:
        masks[info.tensor_id] = stored[offset:offset + info.numel].copy()
        offset += info.numel
    return StepRecord(step=1, stored_masks=masks)


def write_trace(path: Path, header: TraceHeader, record: StepRecord) -> None:
    with TraceWriter(str(path), header, fsync=False) as writer:
        writer.append(record)


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def headline(result, clock_hz: float) -> dict[str, float]:
    totals = result.totals
    return {
        "cycles": totals["cycles"],
        "step_ms_on_chip": totals["cycles"] / clock_hz * 1e3,
        "dram_mb": (totals["dram_read_bytes"] + totals["dram_write_bytes"]) / 1e6,
        "weight_read_mb": totals["weight_dram_read_bytes"] / 1e6,
        "weight_rw_mb": (totals["weight_dram_read_bytes"] + totals["dram_write_bytes.weights"]
                         + totals["dram_write_bytes.metadata"]) / 1e6,
        "energy_mj": totals["energy_pj"] / 1e9,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--budget", type=int, default=1_000_000)
    parser.add_argument("--fidelity", default="fast", choices=("fast", "event"))
    parser.add_argument("--train-steps", type=int, default=3,
                        help="CPU training steps timed after the recorded one (0: skip)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        dense_path, dropback_path = Path(tmp) / "dense.trace", Path(tmp) / "dropback.trace"
        record_s, train_times = record_dense_step(dense_path, args.batch, args.train_steps)
        with open_trace(str(dense_path)) as reader:
            header = reader.header
        dropback_header = dataclasses.replace(
            header, method="dropback",
            method_params={"budget": args.budget, "scope": "global", "synthetic": True})
        dropback_record = dropback_step(dropback_header, args.budget)
        write_trace(dropback_path, dropback_header, dropback_record)

        runs = {  # name: (preset, trace file, header, record with full stored masks)
            "dense / edge-lpddr4": ("edge-lpddr4", dense_path, header, dense_step(header)),
            "dense / datacenter-hbm2": ("datacenter-hbm2", dense_path, header,
                                        dense_step(header)),
            "DropBack / dropback-edge": ("dropback-edge", dropback_path, dropback_header,
                                         dropback_record),
        }
        first, results, calls = {}, {}, {}
        for name, (preset, path, run_header, record) in runs.items():
            first[name], results[name] = timed(
                lambda p=preset, t=path: simulate(str(t), p, fidelity=args.fidelity))
            params = sim_params(load_hardware(preset))
            calls[name] = {
                "replay_records": lambda h=run_header, r=record, p=params:
                    replay_records(h, [r], p, fidelity=args.fidelity),
                "simulate": lambda p=preset, t=path: simulate(str(t), p, fidelity=args.fidelity),
            }
            same = calls[name]["replay_records"]().totals == results[name].totals
            assert same, f"{name}: replay_records and simulate() disagree"
        for _ in range(args.warmup):
            for variants in calls.values():
                for fn in variants.values():
                    fn()
        # Round-robin over every (configuration, entry point) so load changes hit all alike.
        times = {(name, how): [] for name, variants in calls.items() for how in variants}
        for _ in range(args.repeat):
            for name, variants in calls.items():
                for how, fn in variants.items():
                    times[(name, how)].append(timed(fn)[0])
        median_ms = {key: statistics.median(values) * 1e3 for key, values in times.items()}

    print(f"ResNet-18 (CIFAR stem), {header.params_total:,} weights, {len(header.layers)} "
          f"layers, batch {header.batch_size}, phases fwd+bwd_data+bwd_weight+update, "
          f"{args.fidelity} fidelity; median of {args.repeat} after {args.warmup} warm-up")
    print(f"  recording the one dense step with TraceRecorder (torch, CPU): {record_s:.1f} s")
    print(f"{'configuration':26} {'first call':>10} {'replay_records':>15} {'simulate()':>11}")
    for name in runs:
        print(f"{name:26} {first[name] * 1e3:7.0f} ms {median_ms[(name, 'replay_records')]:12.1f}"
              f" ms {median_ms[(name, 'simulate')]:8.1f} ms")
    print("  (the first row's first call includes numba's kernel cache load or compile)")
    if train_times:
        train_ms = statistics.median(train_times) * 1e3
        slowest = max(median_ms[(name, "simulate")] for name in runs)
        print(f"limit: the CPU training step itself, {train_ms:.0f} ms (median of "
              f"{len(train_times)}, {torch.get_num_threads()} threads); slowest simulate() "
              f"/ training step = {slowest / train_ms:.3f}")

    print(f"{'configuration':26} {'cycles':>14} {'on-chip ms':>10} {'DRAM MB':>9} "
          f"{'weight rd MB':>12} {'weight r+w MB':>13} {'energy mJ':>10}")
    numbers = {}
    for name, (preset, *_rest) in runs.items():
        numbers[name] = headline(results[name], load_hardware(preset).array.clock_hz)
        n = numbers[name]
        print(f"{name:26} {n['cycles']:14,.0f} {n['step_ms_on_chip']:10.2f} {n['dram_mb']:9.1f} "
              f"{n['weight_read_mb']:12.1f} {n['weight_rw_mb']:13.1f} {n['energy_mj']:10.1f}")
    dense, dropback = numbers["dense / edge-lpddr4"], numbers["DropBack / dropback-edge"]
    print(f"dense (edge-lpddr4) / DropBack (dropback-edge, {args.budget:,} stored = "
          f"{header.params_total / args.budget:.1f}x compression):")
    for label, key in (("weight DRAM reads (values + metadata)", "weight_read_mb"),
                       ("weight DRAM reads + writes", "weight_rw_mb")):
        print(f"  {label:38} {dense[key]:8.1f} / {dropback[key]:6.1f} MB = "
              f"{dense[key] / dropback[key]:.2f}x")
    print(f"  all DRAM traffic {dense['dram_mb'] / dropback['dram_mb']:.2f}x, cycles "
          f"{dense['cycles'] / dropback['cycles']:.3f}x, energy "
          f"{dense['energy_mj'] / dropback['energy_mj']:.3f}x")


if __name__ == "__main__":
    main()
