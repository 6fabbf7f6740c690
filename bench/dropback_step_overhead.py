"""DropBack's extra time per training step over plain SGD: ResNet-18 (CIFAR), batch 128, CPU.

Prints the median step time of both (steps alternate between the two) and their ratio
(goal: <= 1.10). Numba compile time of
the top-k kernel is measured apart and kept out of the step figures.

    python bench/dropback_step_overhead.py [--steps 6] [--batch 128] [--budget 1000000]
"""

import argparse
import statistics
import time

import torch
from _steps import timed_step  # noqa: E402  (bench/ is on sys.path)

from accelsim.training.init import init_from_regen
from accelsim.training.methods import DropBack
from accelsim.training.methods.dropback import top_k_mask
from accelsim.training.nets import build_net


def hook_timer(fn, times):
    def timed():
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return timed




def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--budget", type=int, default=1_000_000)
    args = parser.parse_args()
    gen = torch.Generator().manual_seed(0)
    batch = (torch.randn(args.batch, 3, 32, 32, generator=gen),
             torch.randint(0, 10, (args.batch,), generator=gen))

    start = time.perf_counter()
    top_k_mask(torch.rand(1000), 10, torch.zeros(1000, dtype=torch.bool))
    compile_s = time.perf_counter() - start

    runs, hook_times = {}, []
    for name in ("sgd", "dropback"):
        model = build_net("resnet-18", in_shape=(3, 32, 32), num_classes=10)
        init = init_from_regen(model, seed=0)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        if name == "dropback":
            method = DropBack(model, budget=args.budget, init=init)
            method.attach(optimizer)
            method.after_step = hook_timer(method.after_step, hook_times)
        timed_step(model, optimizer, batch)  # allocates optimizer state: not timed
        runs[name] = (model, optimizer)
    # Alternate the two so that a load change on the machine hits both alike.
    times = {name: [] for name in runs}
    for _ in range(args.steps):
        for name, (model, optimizer) in runs.items():
            times[name].append(timed_step(model, optimizer, batch))
    results = {name: statistics.median(values) for name, values in times.items()}

    params = sum(p.numel() for p in model.parameters())
    ratio = results["dropback"] / results["sgd"]
    print(f"ResNet-18 (CIFAR), {params:,} weights, budget {args.budget:,}, batch {args.batch}, "
          f"{torch.get_num_threads()} threads, median of {args.steps} steps")
    print(f"  SGD step       {results['sgd'] * 1e3:9.1f} ms")
    print(f"  DropBack step  {results['dropback'] * 1e3:9.1f} ms  "
          f"(+{(results['dropback'] - results['sgd']) * 1e3:.1f} ms)")
    hook = statistics.median(hook_times[1:])
    print(f"  ratio DropBack/SGD = {ratio:.3f}  (goal <= 1.10)")
    print(f"  DropBack's own hook (top-k, resets, state zeroing): {hook * 1e3:.1f} ms = "
          f"{hook / results['sgd'] * 100:.1f}% of an SGD step; ratio (SGD + hook)/SGD = "
          f"{1 + hook / results['sgd']:.3f}")
    print(f"  numba top-k compile/cache load (not in the figures): {compile_s * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
