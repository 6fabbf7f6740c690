"""What TraceRecorder adds to a training step: ResNet-20 (CIFAR), batch 64, CPU, one thread.

For dense SGD and for DropBack, two identical runs — one recorded, one not — take steps in
alternation (a load change on the machine hits both alike); prints the median step time
of each and their ratio (issue bar <= 1.03, goal <= 1.01). The dispatch-level capture of
the first step (accelsim.training.capture) is a one-time cost, printed apart and kept out
of the medians.

    python bench/recording_overhead.py [--steps 20] [--batch 64] [--threads 1]
                                       [--no-count-changed]

``--no-count-changed`` records without the per-step ``changed`` counts
(``TraceRecorder(count_changed=False)``): what the rest of the recorder costs.
"""

import argparse
import os
import statistics
import tempfile

import torch
from _steps import timed_step  # noqa: E402  (bench/ is on sys.path)

from accelsim.training.init import init_from_regen
from accelsim.training.methods import DropBack
from accelsim.training.nets import build_net
from accelsim.training.recorder import TraceRecorder


def run(method_name: str, recorded: bool, folder: str, count_changed: bool = True):
    model = build_net("resnet-20", in_shape=(3, 32, 32), num_classes=10)
    init = init_from_regen(model, seed=0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    method = None
    if method_name == "dropback":
        method = DropBack(model, compression=25, init=init)
        method.attach(optimizer)
    recorder = None
    if recorded:
        path = os.path.join(folder, f"{method_name}.trace")
        recorder = TraceRecorder(model, optimizer, path, method, net="resnet-20",
                                 regen_init=init, count_changed=count_changed)
    return model, optimizer, recorder


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-count-changed", action="store_true",
                        help="record without the per-step changed counts")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    batch = (torch.randn(args.batch, 3, 32, 32, generator=gen),
             torch.randint(0, 10, (args.batch,), generator=gen))
    print(f"ResNet-20 (CIFAR), batch {args.batch}, {torch.get_num_threads()} thread(s), "
          f"median of {args.steps} steps after the first"
          + (", without changed counts" if args.no_count_changed else ""))
    with tempfile.TemporaryDirectory() as folder:
        for method_name in ("dense", "dropback"):
            runs = {recorded: run(method_name, recorded, folder, not args.no_count_changed)
                    for recorded in (False, True)}
            first = {recorded: timed_step(m, o, batch) for recorded, (m, o, _) in runs.items()}
            times = {False: [], True: []}
            for _ in range(args.steps):
                for recorded, (model, optimizer, _) in runs.items():
                    times[recorded].append(timed_step(model, optimizer, batch))
            runs[True][2].close()
            plain, recorded = (statistics.median(times[k]) for k in (False, True))
            print(f"  {method_name:8s} step {plain * 1e3:8.1f} ms, recorded {recorded * 1e3:8.1f} "
                  f"ms: ratio {recorded / plain:.3f} (bar <= 1.03, goal <= 1.01); first step "
                  f"(with capture) {first[True] * 1e3:.0f} ms vs {first[False] * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
