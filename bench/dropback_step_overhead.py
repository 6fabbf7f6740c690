"""DropBack's extra time per training step over plain SGD: ResNet-18 (CIFAR), batch 128, CPU.

Prints the median step time of both and their ratio (goal: <= 1.10). Numba compile time of
the top-k kernel is measured apart and kept out of the step figures.

    python bench/dropback_step_overhead.py [--steps 6] [--batch 128] [--budget 1000000]
"""

import argparse
import statistics
import time

import torch
from torch import nn

from accelsim.training.init import init_from_regen
from accelsim.training.methods import DropBack
from accelsim.training.methods.dropback import top_k_mask
from accelsim.training.nets import build_net


def step_times(model, optimizer, batch, steps):
    x, y = batch
    times = []
    for _ in range(steps + 1):  # the first step allocates optimizer state: not timed
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return times[1:]


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

    results = {}
    for name in ("sgd", "dropback"):
        model = build_net("resnet-18", in_shape=(3, 32, 32), num_classes=10)
        init = init_from_regen(model, seed=0)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        if name == "dropback":
            DropBack(model, budget=args.budget, init=init).attach(optimizer)
        results[name] = statistics.median(step_times(model, optimizer, batch, args.steps))

    params = sum(p.numel() for p in model.parameters())
    ratio = results["dropback"] / results["sgd"]
    print(f"ResNet-18 (CIFAR), {params:,} weights, budget {args.budget:,}, batch {args.batch}, "
          f"{torch.get_num_threads()} threads, median of {args.steps} steps")
    print(f"  SGD step       {results['sgd'] * 1e3:9.1f} ms")
    print(f"  DropBack step  {results['dropback'] * 1e3:9.1f} ms  "
          f"(+{(results['dropback'] - results['sgd']) * 1e3:.1f} ms)")
    print(f"  ratio DropBack/SGD = {ratio:.3f}  (goal <= 1.10)")
    print(f"  numba top-k compile/cache load (not in the figures): {compile_s * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
